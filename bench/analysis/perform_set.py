"""Renders the performed set of bench/analysis.sh: Bach chorales (public domain) from
music21's corpus (BSD-3-Clause; its corpus files freely distributable), played by General
MIDI instruments of a soundfont through fluidsynth, with exact tempo and key labels.

The key is read from the score, never estimated: the key signature names a major tonic
and its relative minor, and the final chord's root (in root position) decides between
them. A chorale is skipped when that root is neither (a modal ending), when its opening
chord has another root, or when its bass does not reach the final root from a fifth above
(no authentic cadence: a Phrygian or plagal close, whose last chord need not be the
tonic); so is one whose key signature changes or whose beat is not a quarter note. The tempo, in
quarter notes per minute, is drawn per piece between 60 and 180 BPM where the piece, its
repeats played, then lasts 30 to 90 s, and replaces every tempo marking; fermatas are not
held. Each piece gets one ensemble (piano, organ, strings, choir, winds, brass, …) and a
level drawn from a generator seeded by its name. Writes OUT/NAME.flac and OUT/labels.csv
(file, bpm, key, piece, ensemble).

    python perform_set.py OUT SOUNDFONT [COUNT]
"""

import csv
import os
import random
import subprocess
import sys
import tempfile

import numpy as np
import soundfile as sf
from music21 import corpus, instrument, key, meter, repeat, tempo

RATE = 44_100
NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
# General MIDI programs (0-based) from the top voice down, repeated for further parts.
ENSEMBLES = {
    "piano": [0],
    "electric piano": [4],
    "harpsichord": [6],
    "vibraphone": [11],
    "church organ": [19],
    "reed organ": [20],
    "nylon guitar": [24],
    "string ensemble": [48],
    "string quartet": [40, 40, 41, 42],
    "choir": [52],
    "woodwind quartet": [73, 68, 71, 70],
    "brass quartet": [56, 56, 57, 58],
    "saxophone quartet": [64, 65, 66, 67],
}


def label_key(score):
    """The key from the signature and the final chord's root, or None when the piece does
    not open on that root and close on it by an authentic cadence, or neither key fits."""
    signatures = {k.sharps for k in score.recurse().getElementsByClass(key.KeySignature)}
    if len(signatures) != 1:
        return None
    chords = score.chordify().recurse().getElementsByClass("Chord")
    if not chords:
        return None
    final = chords[-1]
    root = final.root().pitchClass
    if final.bass().pitchClass != root or chords[0].root().pitchClass != root:
        return None
    approach = [c for c in chords if c.bass().pitchClass != root]
    if not approach or approach[-1].bass().pitchClass != (root + 7) % 12:
        return None
    major = (7 * signatures.pop()) % 12
    if root == major:
        return f"{NAMES[root]} major"
    if root == (major + 9) % 12:
        return f"{NAMES[root]} minor"
    return None


def quarter_beat(score):
    """Whether every time signature counts quarter notes."""
    signatures = list(score.recurse().getElementsByClass(meter.TimeSignature))
    return bool(signatures) and all(ts.denominator == 4 for ts in signatures)


def prepare(score, bpm, programs):
    """Replaces the score's tempi and instruments with `bpm` and `programs`."""
    for old in list(score.recurse().getElementsByClass((tempo.TempoIndication, instrument.Instrument))):
        old.activeSite.remove(old)
    for index, part in enumerate(score.parts):
        player = instrument.Instrument()
        player.midiProgram = programs[index % len(programs)]
        part.insert(0, player)
        part.insert(0, tempo.MetronomeMark(number=bpm))


def render(score, soundfont, path, level_db):
    """Plays `score` through fluidsynth and writes it to `path` with its peak at `level_db`."""
    with tempfile.TemporaryDirectory() as tmp:
        midi, wav = os.path.join(tmp, "piece.mid"), os.path.join(tmp, "piece.wav")
        score.write("midi", fp=midi)
        subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.5", "-r", str(RATE), "-F", wav,
                        soundfont, midi], check=True, stdout=subprocess.DEVNULL)
        audio, rate = sf.read(wav)
    audio *= 10 ** (level_db / 20) / max(np.max(np.abs(audio)), 1e-9)
    sf.write(path, audio, rate, subtype="PCM_16")


def main():
    out, soundfont = sys.argv[1], sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 60
    os.makedirs(out, exist_ok=True)
    rows = []
    for name in corpus.chorales.Iterator(returnType="filename"):
        if len(rows) == count:
            break
        try:
            score = corpus.parse(name).expandRepeats()
        except repeat.ExpanderException:
            continue
        label = label_key(score)
        quarters = float(score.highestTime)
        low, high = max(60.0, quarters * 60 / 90), min(180.0, quarters * 60 / 30)
        if label is None or not quarter_beat(score) or low > high:
            continue
        rng = random.Random(name)
        bpm = round(rng.uniform(low, high))
        ensemble = rng.choice(sorted(ENSEMBLES))
        level_db = rng.uniform(-16, -4)
        path = os.path.join(out, name.replace("/", "-").replace(".", "-") + ".flac")
        if not os.path.exists(path):
            prepare(score, bpm, ENSEMBLES[ensemble])
            render(score, soundfont, path, level_db)
        rows.append([path, bpm, label, name, ensemble])
    with open(os.path.join(out, "labels.csv"), "w", newline="") as labels:
        writer = csv.writer(labels)
        writer.writerow(["file", "bpm", "key", "piece", "ensemble"])
        writer.writerows(rows)


if __name__ == "__main__":
    main()
