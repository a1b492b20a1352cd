#!/usr/bin/env bash
# Extracts the real recordings of bench/analysis.sh from Debian's game-music packages into
# OUT/tracks/PKG-NAME.flac (stereo 44.1 kHz, the first 120 s of each): every track of at
# least 45 s, so that the 30 s excerpt from 15 s on exists. The licences, from each
# package's debian/copyright:
#   wesnoth-1.16-music  GPL-2+        (Battle for Wesnoth's soundtrack, OGG)
#   hyperrogue-music    CC-BY-SA-3.0  (Shawn Parrotte, Lincoln Domina, Will Savino; OGG)
#   asc-music           GPL-2+        (Michael Kievernagel, Advanced Strategic Command; MP3)
# Only the music files are unpacked, from packages `apt-get download` fetches into a
# temporary directory (about 230 MB, deleted afterwards); nothing is installed.
#
#   bench/analysis/real_set.sh OUT
set -euo pipefail

out=$1
[ -e "$out/.complete" ] && exit 0
mkdir -p "$out/tracks"
debs=$(mktemp -d)
trap 'rm -rf "$debs"' EXIT
# apt drops to its own user for downloads, which must be able to write there.
chmod 777 "$debs"

# PACKAGE SHORT-NAME GLOB-OF-MUSIC-FILES-IN-THE-PACKAGE
while read -r package short glob; do
  (cd "$debs" && apt-get download -q "$package" >/dev/null)
  mkdir -p "$debs/$short"
  dpkg-deb --fsys-tarfile "$debs/$package"_*.deb |
    tar -x -C "$debs/$short" --wildcards --no-anchored "$glob"
  rm "$debs/$package"_*.deb
  find "$debs/$short" -type f | sort | while read -r file; do
    # score.py takes a file's name up to its first underscore as the recording.
    track=$out/tracks/$short-$(basename "${file%.*}" | tr '_' '-').flac
    # FFmpeg rejects the Vorbis headers of one Hyperrogue track that sox reads.
    ffmpeg -nostdin -loglevel quiet -y -i "$file" -t 120 -ar 44100 -ac 2 -sample_fmt s16 "$track" ||
      sox -V1 "$file" -r 44100 -c 2 -b 16 "$track" trim 0 120
    if awk -v s="$(soxi -D "$track")" 'BEGIN { exit !(s < 45) }'; then rm "$track"; fi
  done
done <<'EOF'
wesnoth-1.16-music wesnoth */data/core/music/*.ogg
hyperrogue-music hyperrogue */hyperrogue/music/*.ogg
asc-music asc */asc/music/*.mp3
EOF
touch "$out/.complete"
