"""Renders the synthetic labelled development set of bench/analysis.sh.

Each song is 60 s of stereo 44.1 kHz audio in a known key and at a known tempo: a chord
progression typical of its mode (voiced as pads), a bass line on the chord roots, a
melody on the scale, and a drum pattern (kick, snare, hats), with timbres, levels and
patterns drawn per song from a seeded generator. Writes OUT/songs/NN.wav and
OUT/labels.csv (file, bpm, key).

    python make_set.py OUT [COUNT]
"""

import csv
import os
import sys

import numpy as np
import soundfile as sf

RATE = 44_100
SECONDS = 60.0
NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
MAJOR = [0, 2, 4, 5, 7, 9, 11]
MINOR = [0, 2, 3, 5, 7, 8, 10]
# Progressions as scale degrees (0-based), with the triad's quality from the scale.
PROGRESSIONS = {
    "major": [[0, 4, 5, 3], [0, 3, 4, 0], [1, 4, 0, 0], [0, 5, 3, 4], [0, 3, 0, 4]],
    "minor": [[0, 5, 2, 6], [0, 3, 4, 0], [0, 6, 5, 4], [0, 3, 6, 2], [0, 5, 3, 4]],
}


def tone(freq, seconds, harmonics, decay, rng):
    t = np.arange(int(seconds * RATE)) / RATE
    phase = rng.uniform(0, 2 * np.pi)
    out = np.zeros_like(t)
    for k, level in enumerate(harmonics, start=1):
        if freq * k < RATE / 2:
            out += level * np.sin(2 * np.pi * freq * k * t + phase * k)
    env = np.exp(-t * decay) * np.minimum(1.0, t / 0.01)
    return out * env


def hz(midi):
    return 440.0 * 2 ** ((midi - 69) / 12)


def add(track, at, sound):
    start = int(at * RATE)
    end = min(len(track), start + len(sound))
    if start < end:
        track[start:end] += sound[: end - start]


def drum(kind, rng):
    n = int(0.25 * RATE)
    t = np.arange(n) / RATE
    if kind == "kick":
        f = 50 + 100 * np.exp(-t * 40)
        return np.sin(2 * np.pi * np.cumsum(f) / RATE) * np.exp(-t * 18)
    noise = rng.standard_normal(n)
    if kind == "snare":
        return 0.6 * noise * np.exp(-t * 25) + 0.4 * np.sin(2 * np.pi * 190 * t) * np.exp(-t * 30)
    hat = np.diff(noise, prepend=0.0)
    return 0.3 * hat * np.exp(-t * 80)


def song(seed):
    rng = np.random.default_rng(seed)
    mode = "major" if seed % 2 == 0 else "minor"
    tonic = int(rng.integers(0, 12))
    bpm = float(np.round(rng.uniform(62, 178), 1))
    scale = MAJOR if mode == "major" else MINOR
    progression = PROGRESSIONS[mode][int(rng.integers(0, 5))]
    beat = 60.0 / bpm
    bars_per_chord = int(rng.integers(1, 3))
    pad_harmonics = rng.uniform(0.1, 1.0, size=int(rng.integers(2, 7)))
    lead_harmonics = rng.uniform(0.1, 1.0, size=int(rng.integers(1, 6)))
    n = int(SECONDS * RATE)
    pads, bass, lead, drums = (np.zeros(n) for _ in range(4))
    hat_every = [0.5, 0.25, 1.0][int(rng.integers(0, 3))]
    time, chord_index = 0.0, 0
    while time < SECONDS:
        degree = progression[chord_index % len(progression)]
        root = 48 + tonic + scale[degree]
        third = 48 + tonic + scale[(degree + 2) % 7] + 12 * ((degree + 2) // 7)
        fifth = 48 + tonic + scale[(degree + 4) % 7] + 12 * ((degree + 4) // 7)
        length = 4 * beat * bars_per_chord
        for note in (root + 12, third + 12, fifth + 12):
            add(pads, time, tone(hz(note), length, pad_harmonics, 0.3, rng))
        for b in range(4 * bars_per_chord):
            add(bass, time + b * beat, tone(hz(root - 12), beat, [1.0, 0.5, 0.2], 4.0, rng))
        # The melody favours the chord's notes, then the scale's.
        for b in range(8 * bars_per_chord):
            if rng.random() < 0.3:
                continue
            if rng.random() < 0.6:
                note = [root, third, fifth][int(rng.integers(0, 3))] + 24
            else:
                note = 72 + tonic + scale[int(rng.integers(0, 7))]
            add(lead, time + b * beat / 2, tone(hz(note), beat / 2, lead_harmonics, 6.0, rng))
        for b in range(4 * bars_per_chord):
            at = time + b * beat
            add(drums, at, drum("kick" if b % 2 == 0 else "snare", rng))
        step = hat_every * beat
        for h in range(int(4 * bars_per_chord * beat / step)):
            add(drums, time + h * step, drum("hat", rng))
        time += length
        chord_index += 1
    levels = rng.uniform(0.5, 1.0, size=4)
    mix = levels[0] * pads / 3 + levels[1] * bass + levels[2] * 0.6 * lead + levels[3] * drums
    pan = rng.uniform(-0.3, 0.3)
    stereo = np.stack([mix * (1 - pan), mix * (1 + pan)], axis=1)
    stereo *= 10 ** (rng.uniform(-16, -4) / 20) / np.max(np.abs(stereo))
    return stereo, bpm, f"{NAMES[tonic]} {mode}"


def main():
    out = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 48
    os.makedirs(os.path.join(out, "songs"), exist_ok=True)
    with open(os.path.join(out, "labels.csv"), "w", newline="") as labels:
        writer = csv.writer(labels)
        writer.writerow(["file", "bpm", "key"])
        for seed in range(count):
            path = os.path.join(out, "songs", f"{seed:02d}.wav")
            audio, bpm, key = song(seed)
            if not os.path.exists(path):
                sf.write(path, audio, RATE, subtype="PCM_16")
            writer.writerow([path, bpm, key])


if __name__ == "__main__":
    main()
