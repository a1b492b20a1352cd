"""librosa's tempo and key of audio files, one JSON line each, for bench/analysis.sh.

Tempo: librosa.beat.beat_track (onset strength, tempogram, dynamic-programming beats).
Key: librosa.feature.chroma_cqt summed over the file, correlated with the 24 rotations of
Krumhansl–Kessler's probe-tone profiles.

    python librosa_run.py FILE...
"""

import json
import sys
import time

import librosa
import numpy as np

NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
KK_MAJOR = [6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88]
KK_MINOR = [6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17]


def key_of(y, sr):
    chroma = librosa.feature.chroma_cqt(y=y, sr=sr).sum(axis=1)
    best = None
    for tonic in range(12):
        for mode, profile in (("major", KK_MAJOR), ("minor", KK_MINOR)):
            r = np.corrcoef(chroma, np.roll(profile, tonic))[0, 1]
            if best is None or r > best[0]:
                best = (r, f"{NAMES[tonic]} {mode}")
    return best[1]


for path in sys.argv[1:]:
    started = time.time()
    y, sr = librosa.load(path, sr=22_050, mono=True)
    tempo, _ = librosa.beat.beat_track(y=y, sr=sr)
    key = key_of(y, sr)
    print(json.dumps({
        "file": path,
        "tempo_bpm": float(np.atleast_1d(tempo)[0]),
        "key": key,
        "wall_seconds": time.time() - started,
    }), flush=True)
