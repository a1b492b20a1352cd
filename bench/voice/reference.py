"""Compares the Rust voice engine's output (JSON lines on stdin, from the
features_dump example) with librosa and with Resemblyzer's encoder run in
NumPy on the same weights.

    reference.py MODEL.pt RESEMBLYZER_DIR < dump.jsonl
"""
import json
import sys

import librosa
import numpy as np

import torch_legacy

SR = 16000
FEAT = dict(sr=SR, n_fft=512, hop_length=160)


def librosa_features(y):
    mfcc = librosa.feature.mfcc(y=y, n_mfcc=20, n_mels=40, **FEAT).T
    centroid = librosa.feature.spectral_centroid(y=y, **FEAT)[0]
    rolloff = librosa.feature.spectral_rolloff(y=y, roll_percent=0.85, **FEAT)[0]
    f0 = librosa.yin(y, fmin=60, fmax=400, sr=SR, frame_length=1024, hop_length=160)
    return mfcc, centroid, rolloff, f0


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class Ge2e:
    """GE2E forward pass (3-layer LSTM, linear, ReLU, L2) in NumPy."""

    def __init__(self, path):
        s = torch_legacy.load(path)["model_state"]
        self.layers = [
            (s[f"lstm.weight_ih_l{k}"], s[f"lstm.weight_hh_l{k}"], s[f"lstm.bias_ih_l{k}"] + s[f"lstm.bias_hh_l{k}"])
            for k in range(3)
        ]
        self.w, self.b = s["linear.weight"], s["linear.bias"]

    def partial(self, mels):  # mels: (batch, frames, 40)
        x = mels.astype(np.float64)
        for w_ih, w_hh, bias in self.layers:
            batch, steps, _ = x.shape
            h = np.zeros((batch, 256))
            c = np.zeros((batch, 256))
            xs = x @ w_ih.T + bias
            out = []
            for t in range(steps):
                g = xs[:, t] + h @ w_hh.T
                i, f, gg, o = np.split(g, 4, axis=1)
                c = sigmoid(f) * c + sigmoid(i) * np.tanh(gg)
                h = sigmoid(o) * np.tanh(c)
                out.append(h)
            x = np.stack(out, axis=1)
        e = np.maximum(x[:, -1] @ self.w.T + self.b, 0)
        return e / np.linalg.norm(e, axis=1, keepdims=True)

    def utterance(self, wav, rate=1.3, min_coverage=0.75):
        # Resemblyzer's partial slicing: 160-frame windows every round(16000/rate/160) frames.
        n_frames = int(np.ceil((len(wav) + 1) / 160))
        step = int(np.round((SR / rate) / 160))
        starts = list(range(0, max(1, n_frames - 160 + step + 1), step))
        if (len(wav) - starts[-1] * 160) / (160 * 160) < min_coverage and len(starts) > 1:
            starts.pop()
        stop = (starts[-1] + 160) * 160
        if stop >= len(wav):
            wav = np.pad(wav, (0, stop - len(wav)))
        mel = librosa.feature.melspectrogram(y=wav, sr=SR, n_fft=400, hop_length=160, n_mels=40).astype(np.float32).T
        partials = self.partial(np.array([mel[s:s + 160] for s in starts]))
        e = partials.mean(axis=0)
        return e / np.linalg.norm(e)


def resemblyzer_audio(root):
    """Resemblyzer's audio module (librosa + webrtcvad), without its package
    __init__, which imports torch for the encoder."""
    import importlib.util
    import types

    package = types.ModuleType("resemblyzer")
    package.__path__ = [f"{root}/resemblyzer"]
    sys.modules["resemblyzer"] = package
    for name in ("hparams", "audio"):
        spec = importlib.util.spec_from_file_location(f"resemblyzer.{name}", f"{root}/resemblyzer/{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return sys.modules["resemblyzer.audio"]


def rel_err(a, b):
    return np.abs(a - b) / np.maximum(np.abs(b), 1e-9)


def main():
    model, resemblyzer_dir = sys.argv[1], sys.argv[2]
    audio = resemblyzer_audio(resemblyzer_dir)

    ge2e = Ge2e(model)
    rows = []
    for line in sys.stdin:
        r = json.loads(line)
        y, _ = librosa.load(r["file"], sr=None)
        mfcc, centroid, rolloff, f0 = librosa_features(y)
        rm, rc, rr, rf = (np.array(r[k], dtype=np.float64) for k in ("mfcc", "centroid", "rolloff", "f0"))
        voiced = np.array(r["voiced"])
        cents = 1200 * np.abs(np.log2(rf[voiced] / f0[voiced]))
        emb_same_input = float(np.dot(r["embedding"], ge2e.utterance(y)))
        full = ge2e.utterance(audio.preprocess_wav(y, source_sr=SR))
        emb_end_to_end = float(np.dot(r["embedding_gated"], full)) if r["embedding_gated"] else float("nan")
        rows.append(dict(
            file=r["file"].split("/")[-1],
            frames=(len(rm), len(mfcc)),
            mfcc_max_abs=float(np.abs(rm - mfcc).max()),
            mfcc_stat_max_abs=float(max(np.abs(rm.mean(0) - mfcc.mean(0)).max(), np.abs(rm.std(0) - mfcc.std(0)).max())),
            centroid_p99_rel=float(np.percentile(rel_err(rc, centroid)[centroid > 0], 99)),
            centroid_mean_rel=float(abs(rc.mean() - centroid.mean()) / centroid.mean()),
            rolloff_same_bin=float(np.mean(np.abs(rr - rolloff) < 1)),
            f0_voiced=int(voiced.sum()),
            f0_cents_median=float(np.median(cents)),
            f0_cents_p99=float(np.percentile(cents, 99)),
            f0_median_hz=(float(np.median(rf[voiced])), float(np.median(f0[voiced]))),
            cos_same_input=emb_same_input,
            cos_end_to_end=emb_end_to_end,
        ))
    for row in rows:
        print(json.dumps(row))
    cos = [r["cos_same_input"] for r in rows]
    e2e = [r["cos_end_to_end"] for r in rows]
    print(f"files {len(rows)}")
    print(f"MFCC per-frame max |diff| {max(r['mfcc_max_abs'] for r in rows):.4g} (dB-scaled cepstra); "
          f"mean/std max |diff| {max(r['mfcc_stat_max_abs'] for r in rows):.4g}")
    print(f"centroid per-frame p99 rel diff {max(r['centroid_p99_rel'] for r in rows):.3g}; "
          f"mean rel diff {max(r['centroid_mean_rel'] for r in rows):.3g}")
    print(f"roll-off same bin in {min(r['rolloff_same_bin'] for r in rows) * 100:.2f} % of frames (worst file)")
    print(f"f0 on voiced frames: median {max(r['f0_cents_median'] for r in rows):.3g} cents, "
          f"p99 {max(r['f0_cents_p99'] for r in rows):.3g} cents (worst file)")
    print(f"embedding cosine, same waveform, Rust vs NumPy: min {min(cos):.6f} mean {np.mean(cos):.6f}")
    print(f"embedding cosine, Rust pipeline vs Resemblyzer preprocess_wav (webrtcvad): "
          f"min {np.nanmin(e2e):.4f} mean {np.nanmean(e2e):.4f}")


if __name__ == "__main__":
    main()
