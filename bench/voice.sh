#!/usr/bin/env bash
# Voice benchmark: classic features (MFCC-20, spectral centroid, roll-off, YIN
# f0) and the GE2E embedding of 30 s of 16 kHz speech in Rust, beside librosa
# computing the same classic features on the same file in the same run.
#
#   bench/voice.sh [RUNS]      best of RUNS (default 5) for each side
#
# The speech is the shared corpus' files joined with sox and cut to 30 s;
# librosa runs in a venv under ${XDG_CACHE_HOME:-$HOME/.cache}/mixdown.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

runs=${1:-5}
venv=${XDG_CACHE_HOME:-$HOME/.cache}/mixdown/pyvenv-voice
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
command -v sox >/dev/null || { echo "voice bench: needs sox" >&2; exit 1; }
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import librosa' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet librosa >&2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sox $(ls ../shared/testdata/voice/*.wav | head -n 12) "$work/speech.wav" trim 0 30
export MIXDOWN_VOICE_MODEL=${MIXDOWN_VOICE_MODEL:-$(scripts/voice-model.sh)}

cargo build --quiet --release -p mixdown-voice --example bench
rust=$("$CARGO_TARGET_DIR/release/examples/bench" "$work/speech.wav" "$runs")
py=$("$venv/bin/python" bench/voice/librosa_bench.py "$work/speech.wav" "$runs")
echo "$rust"
echo "$py"
awk -v r="$(echo "$rust" | awk '/classic/ {print $2}')" -v p="$(echo "$py" | awk '{print $2}')" \
  'BEGIN { printf "audio 30 s; classic features: Rust %.1f ms, librosa %.1f ms, Rust is %.1fx faster\n", r*1000, p*1000, p/r }'
