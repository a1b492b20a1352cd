#!/usr/bin/env bash
# Checks the voice engine against references on the shared test corpus:
# MFCC, spectral centroid, roll-off and YIN f0 against librosa, and the GE2E
# embedding against a NumPy forward pass over the same Resemblyzer weights
# (fed librosa's mel spectrogram) and against Resemblyzer's own preprocessing.
#
#   bench/voice-check.sh [WAV...]     default: two files per corpus speaker
#
# The Python side lives in a venv under ${XDG_CACHE_HOME:-$HOME/.cache}/mixdown.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cache=${XDG_CACHE_HOME:-$HOME/.cache}/mixdown
venv=$cache/pyvenv-voice
data=../shared/testdata/voice
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import librosa, webrtcvad' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet librosa webrtcvad >&2
fi
model=$(scripts/voice-model.sh)
wheel_dir=$cache/resemblyzer-0.1.4
if [ ! -f "$wheel_dir/resemblyzer/audio.py" ]; then
  tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --dest "$tmp" resemblyzer==0.1.4 >&2
  mkdir -p "$wheel_dir"
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$tmp"/*.whl "$wheel_dir"
  rm -rf "$tmp"
fi

if [ $# -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <(for s in $(ls "$data"/*.wav | xargs -n1 basename | cut -d_ -f1 | sort -u); do
    ls "$data/$s"_*.wav | head -n 2; done)
fi

cargo build --quiet --release -p mixdown-voice --example features_dump
"$CARGO_TARGET_DIR/release/examples/features_dump" "${files[@]}" \
  | MIXDOWN_VOICE_MODEL="$model" "$venv/bin/python" bench/voice/reference.py "$model" "$wheel_dir"
