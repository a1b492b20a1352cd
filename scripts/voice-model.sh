#!/usr/bin/env bash
# Fetch the GE2E speaker-encoder weights of Resemblyzer 0.1.4 (Apache-2.0)
# from PyPI and put `pretrained.pt` in a directory. Idempotent: does nothing
# when the file is already there with the expected checksum.
#
#   scripts/voice-model.sh [DIR]
#
# DIR defaults to ${XDG_CACHE_HOME:-$HOME/.cache}/mixdown/voice. Prints the
# path of the weights file. Needs python3 (for pip or, failing that, for the
# PyPI JSON API and unzipping) and network access to PyPI.
set -euo pipefail

dir=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/mixdown/voice}
version=0.1.4
wheel_sha256=8f12eb2f1a9982d32e8db7856de754709b59c93a77bcf0ff536584b619a9dd1f
model_sha256=39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e
target=$dir/pretrained.pt

if [ -f "$target" ] && echo "$model_sha256  $target" | sha256sum --check --status; then
  echo "$target"
  exit 0
fi

mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if python3 -m pip --version >/dev/null 2>&1; then
  python3 -m pip download --quiet --no-deps --only-binary=:all: \
    --dest "$work" "resemblyzer==$version" >&2
else
  url=$(python3 -c '
import json, sys, urllib.request
info = json.load(urllib.request.urlopen(f"https://pypi.org/pypi/resemblyzer/{sys.argv[1]}/json"))
print(next(u["url"] for u in info["urls"] if u["packagetype"] == "bdist_wheel"))' "$version")
  curl --fail --silent --show-error --location --output "$work/resemblyzer.whl" "$url"
fi

wheel=$(find "$work" -maxdepth 1 -iname '*.whl' | head -n 1)
[ -n "$wheel" ] || { echo "voice-model: no wheel downloaded" >&2; exit 1; }
echo "$wheel_sha256  $wheel" | sha256sum --check --status \
  || { echo "voice-model: checksum mismatch for $wheel" >&2; exit 1; }

python3 - "$wheel" "$work/pretrained.pt" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("resemblyzer/pretrained.pt") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
echo "$model_sha256  $work/pretrained.pt" | sha256sum --check --status \
  || { echo "voice-model: pretrained.pt checksum mismatch" >&2; exit 1; }
# Move into place last so a reader never sees a half-written file.
mv "$work/pretrained.pt" "$target.partial"
mv "$target.partial" "$target"
echo "$target"
