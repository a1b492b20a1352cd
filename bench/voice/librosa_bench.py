"""Times librosa's MFCC-20, spectral centroid, roll-off and YIN on one file,
with the engine's settings; best of several runs after a warm-up call (which
pays numba's compilation)."""
import sys
import time

import librosa

y, sr = librosa.load(sys.argv[1], sr=None)
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
feat = dict(sr=sr, n_fft=512, hop_length=160)


def classic():
    librosa.feature.mfcc(y=y, n_mfcc=20, n_mels=40, **feat)
    librosa.feature.spectral_centroid(y=y, **feat)
    librosa.feature.spectral_rolloff(y=y, roll_percent=0.85, **feat)
    librosa.yin(y, fmin=60, fmax=400, sr=sr, frame_length=1024, hop_length=160)


classic()
best = float("inf")
for _ in range(runs):
    t = time.perf_counter()
    classic()
    best = min(best, time.perf_counter() - t)
print(f"librosa_classic_seconds {best:.6f}")
