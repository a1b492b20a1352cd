"""Scores bench/analysis.sh's runs: tempo Accuracy1/Accuracy2 and the MIREX weighted key
score of Mixdown and librosa beside each other, per labelled set and pooled, and per set of
recordings the fingerprint's recall on variants and false positives over pairs of
different recordings (those that matched are named).

    python score.py --labels SET=LABELS.csv ... --pairs SET=PAIRS.jsonl ... \
        MIXDOWN.jsonl LIBROSA.jsonl
"""

import argparse
import csv
import json
import os
from collections import defaultdict

NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]


def parse_key(text):
    tonic, mode = text.split()
    return NAMES.index(tonic), mode


def accuracy1(estimate, reference):
    return abs(estimate - reference) <= 0.04 * reference


def accuracy2(estimate, reference):
    return any(accuracy1(estimate, reference * f) for f in (1, 2, 0.5, 3, 1 / 3))


def mirex(estimate, reference):
    """1 for the key, 0.5 a fifth away (same mode), 0.3 relative, 0.2 parallel, else 0."""
    (et, em), (rt, rm) = parse_key(estimate), parse_key(reference)
    if (et, em) == (rt, rm):
        return 1.0
    if em == rm and (et - rt) % 12 in (5, 7):
        return 0.5
    if rm == "major" and em == "minor" and (et - rt) % 12 == 9:
        return 0.3
    if rm == "minor" and em == "major" and (et - rt) % 12 == 3:
        return 0.3
    if et == rt:
        return 0.2
    return 0.0


def lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def named(text):
    """`NAME=PATH` of a command-line option, as (NAME, PATH)."""
    name, _, path = text.partition("=")
    return name, path


def tempo_and_key(label_sets, results):
    """Prints each tool's scores per labelled set and over all of them pooled."""
    labels = {}
    for set_name, path in label_sets:
        with open(path) as f:
            for row in csv.DictReader(f):
                labels[os.path.realpath(row["file"])] = (set_name, row)
    groups = [name for name, _ in label_sets] + (["pooled"] if len(label_sets) > 1 else [])
    print(f"{'tool':<10} {'set':<10} {'files':>5} {'tempo_acc1':>10} {'tempo_acc2':>10} "
          f"{'key_mirex':>10} {'wall_s':>8}")
    for tool, path in results:
        sums = defaultdict(lambda: [0, 0.0, 0.0, 0.0, 0.0])
        for r in lines(path):
            found = labels.get(os.path.realpath(r["file"]))
            if found is None:
                continue
            set_name, label = found
            bpm = float(label["bpm"])
            tempo = r.get("tempo_bpm") or 0.0
            scores = (1, accuracy1(tempo, bpm), accuracy2(tempo, bpm),
                      mirex(r["key"], label["key"]) if r.get("key") else 0.0, r["wall_seconds"])
            for group in (set_name, "pooled"):
                sums[group] = [a + b for a, b in zip(sums[group], scores)]
        for group in groups:
            n, acc1, acc2, key, wall = sums[group]
            d = max(n, 1)
            print(f"{tool:<10} {group:<10} {n:>5} {100 * acc1 / d:>9.1f}% {100 * acc2 / d:>9.1f}% "
                  f"{100 * key / d:>9.1f}% {wall:>8.1f}")


def fingerprints(set_name, path):
    """Prints recall per variant and false positives over the pairs of one set."""
    song = lambda path: os.path.basename(path).split("_")[0].split(".")[0]
    variant = lambda path: os.path.basename(path).split(".")[0].partition("_")[2] or "original"
    recall = defaultdict(lambda: [0, 0])
    false_pos, matched = [0, 0], []
    same_ber, other_ber = [], []
    seen = set()
    for p in lines(path):
        key = tuple(sorted((p["a"], p["b"])))
        if key in seen:
            continue
        seen.add(key)
        if song(p["a"]) == song(p["b"]):
            kinds = {variant(p["a"]), variant(p["b"])}
            if "original" not in kinds:
                continue
            kind = (kinds - {"original"}).pop()
            recall[kind][0] += p["duplicate"]
            recall[kind][1] += 1
            same_ber.append(p["bit_error_rate"])
        else:
            false_pos[0] += p["duplicate"]
            false_pos[1] += 1
            if p["duplicate"]:
                matched.append(p)
            if p["overlap_seconds"] >= 20:
                other_ber.append(p["bit_error_rate"])
    print()
    print(f"{set_name + ' variant':<24} {'pairs':>5} {'recall':>8}")
    total = [0, 0]
    for kind, (hit, n) in sorted(recall.items()):
        print(f"{kind:<24} {n:>5} {100 * hit / n:>7.1f}%")
        total[0] += hit
        total[1] += n
    if total[1]:
        print(f"{'all':<24} {total[1]:>5} {100 * total[0] / total[1]:>7.1f}%")
    if false_pos[1]:
        print(f"{set_name} false positives: {false_pos[0]} of {false_pos[1]} pairs of different "
              f"recordings ({100 * false_pos[0] / false_pos[1]:.3f}%)")
    for p in matched:
        print(f"  {song(p['a'])} ~ {song(p['b'])}: bit error rate {p['bit_error_rate']:.3f}, "
              f"overlap {p['overlap_seconds']:.1f} s")
    if same_ber and other_ber:
        same_ber.sort()
        other_ber.sort()
        print(f"{set_name} bit error rate, same recording: median "
              f"{same_ber[len(same_ber) // 2]:.3f}, worst {same_ber[-1]:.3f}; different "
              f"recordings (20 s+ overlap): best {other_ber[0]:.3f}, 1st percentile "
              f"{other_ber[len(other_ber) // 100]:.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=named, action="append", default=[],
                        metavar="SET=LABELS.csv", help="a labelled set: file, bpm, key")
    parser.add_argument("--pairs", type=named, action="append", default=[],
                        metavar="SET=PAIRS.jsonl", help="`mixdown analyze --pairs` of a set")
    parser.add_argument("mixdown", metavar="MIXDOWN.jsonl")
    parser.add_argument("librosa", metavar="LIBROSA.jsonl")
    args = parser.parse_args()
    tempo_and_key(args.labels, [("mixdown", args.mixdown), ("librosa", args.librosa)])
    for set_name, path in args.pairs:
        fingerprints(set_name, path)


if __name__ == "__main__":
    main()
