"""Scores bench/analysis.sh's runs: tempo Accuracy1/Accuracy2 and the MIREX weighted key
score of Mixdown and librosa beside each other, and the fingerprint's recall on variants
and false positives over pairs of different songs.

    python score.py LABELS.csv MIXDOWN.jsonl LIBROSA.jsonl PAIRS.jsonl
"""

import csv
import json
import os
import sys
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


def main():
    labels_path, ours_path, theirs_path, pairs_path = sys.argv[1:5]
    with open(labels_path) as f:
        labels = {os.path.basename(r["file"]): r for r in csv.DictReader(f)}
    print(f"{'tool':<10} {'files':>5} {'tempo_acc1':>10} {'tempo_acc2':>10} {'key_mirex':>10} {'wall_s':>8}")
    for tool, path in (("mixdown", ours_path), ("librosa", theirs_path)):
        rows = [r for r in lines(path) if os.path.basename(r["file"]) in labels]
        acc1 = acc2 = key = wall = 0.0
        for r in rows:
            label = labels[os.path.basename(r["file"])]
            bpm = float(label["bpm"])
            tempo = r.get("tempo_bpm") or 0.0
            acc1 += accuracy1(tempo, bpm)
            acc2 += accuracy2(tempo, bpm)
            key += mirex(r["key"], label["key"]) if r.get("key") else 0.0
            wall += r["wall_seconds"]
        n = max(len(rows), 1)
        print(f"{tool:<10} {len(rows):>5} {100 * acc1 / n:>9.1f}% {100 * acc2 / n:>9.1f}% "
              f"{100 * key / n:>9.1f}% {wall:>8.1f}")

    song = lambda path: os.path.basename(path).split("_")[0].split(".")[0]
    variant = lambda path: os.path.basename(path).split(".")[0].partition("_")[2] or "original"
    recall = defaultdict(lambda: [0, 0])
    false_pos = [0, 0]
    same_ber, other_ber = [], []
    seen = set()
    for p in lines(pairs_path):
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
            if p["overlap_seconds"] >= 20:
                other_ber.append(p["bit_error_rate"])
    print()
    print(f"{'variant':<14} {'pairs':>5} {'recall':>8}")
    total = [0, 0]
    for kind, (hit, n) in sorted(recall.items()):
        print(f"{kind:<14} {n:>5} {100 * hit / n:>7.1f}%")
        total[0] += hit
        total[1] += n
    if total[1]:
        print(f"{'all':<14} {total[1]:>5} {100 * total[0] / total[1]:>7.1f}%")
    if false_pos[1]:
        print(f"false positives: {false_pos[0]} of {false_pos[1]} pairs of different songs "
              f"({100 * false_pos[0] / false_pos[1]:.3f}%)")
    if same_ber and other_ber:
        same_ber.sort()
        other_ber.sort()
        print(f"bit error rate, same recording: median {same_ber[len(same_ber) // 2]:.3f}, "
              f"worst {same_ber[-1]:.3f}; different songs (20 s+ overlap): best "
              f"{other_ber[0]:.3f}, 1st percentile {other_ber[len(other_ber) // 100]:.3f}")


if __name__ == "__main__":
    main()
