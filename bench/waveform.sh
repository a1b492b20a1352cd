#!/usr/bin/env bash
# Waveform generation speed and memory: `mixdown waveform` (.dat, zoom 256) against
# audiowaveform with the same options (when on PATH) and against `ffmpeg -f s16le`
# to /dev/null, the cost of decoding alone. Inputs are 10-minute and 3-hour stereo
# 44.1 kHz WAV, MP3 (192k), FLAC and Opus (96k, resampled to 48 kHz by the encoder),
# made once and reused.
#
#   bench/waveform.sh [INPUT_DIR]
#
# INPUT_DIR defaults to ${TMPDIR:-/tmp}/mixdown-waveform-bench (about 2.6 GB).
# Mixdown runs on the FFmpeg the image ships and scripts/run.sh uses (built
# once by scripts/ffmpeg-lean.sh); MIXDOWN_FFMPEG_LIB=DIR runs it on the
# libraries in DIR instead, MIXDOWN_FFMPEG_LIB=system on the packaged ones.
# Prints one row per tool and input: wall seconds, peak RSS, the ratio of each
# to the decode floor, and audiowaveform's time over the tool's (above 1:
# faster than audiowaveform). On WAV and FLAC, mixdown's and audiowaveform's
# outputs are compared byte for byte.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh

inputs=${1:-${TMPDIR:-/tmp}/mixdown-waveform-bench}
mixdown_install_packages ffmpeg sox time
mixdown_require_cargo
target=${CARGO_TARGET_DIR:-target}
cargo build --release -p mixdown >/dev/null
bin=$target/release/mixdown
mixdown_ffmpeg_env
run_mixdown=("${MIXDOWN_FFMPEG_ENV[@]}" "$bin")
mkdir -p "$inputs"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

make_inputs() {
  local name=$1 seconds=$2 base="$inputs/$1"
  if [ ! -s "$base.wav" ]; then
    mixdown_info "making $name.wav ($seconds s)"
    # Music-like: two tones under a slow tremolo, plus quiet noise.
    sox -D -n -r 44100 -c 2 -b 16 "$base.wav" synth "$seconds" sine 220 sine 330 \
      synth "$seconds" pinknoise mix tremolo 0.5 40 gain -6
  fi
  [ -s "$base.mp3" ] || ffmpeg -nostdin -loglevel error -y -i "$base.wav" -b:a 192k "$base.mp3"
  [ -s "$base.flac" ] || ffmpeg -nostdin -loglevel error -y -i "$base.wav" "$base.flac"
  [ -s "$base.opus" ] || ffmpeg -nostdin -loglevel error -y -i "$base.wav" -b:a 96k "$base.opus"
}

# Runs "$@" under /usr/bin/time; prints "wall_seconds peak_kib".
measure() {
  /usr/bin/time -f '%e %M' -o "$work/time" "$@" >/dev/null 2>"$work/stderr" ||
    { cat "$work/stderr" >&2; return 1; }
  cat "$work/time"
}

row() { printf '%-18s %-13s %9s %10s %10s %10s %9s\n' "$@"; }

make_inputs 10min 600
make_inputs 3h 10800

has_audiowaveform=false
if command -v audiowaveform >/dev/null 2>&1; then
  has_audiowaveform=true
else
  mixdown_info "audiowaveform not on PATH: its rows are skipped"
fi

# Other work on the machine shifts every ratio: say how busy it was.
mixdown_info "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
row input tool wall_s peak_MiB wall/floor rss/floor "awf/this"
for name in 10min 3h; do
  for ext in wav mp3 flac opus; do
    input="$inputs/$name.$ext"
    read -r floor_s floor_k < <(measure ffmpeg -nostdin -loglevel error -i "$input" -f s16le -y /dev/null)
    awf_s=""
    if $has_audiowaveform; then
      read -r awf_s awf_k < <(measure audiowaveform -i "$input" -o "$work/awf.dat" -z 256 -b 16)
    fi
    read -r wall kib < <(measure "${run_mixdown[@]}" waveform -i "$input" -o "$work/mixdown.dat" -z 256 -b 16)
    # Columns: wall and RSS against the decode floor; audiowaveform's wall over this
    # tool's, so above 1 is faster than audiowaveform.
    report() {
      local tool=$1 wall=$2 kib=$3
      row "$name.$ext" "$tool" "$wall" "$((kib / 1024))" \
        "$(awk -v a="$wall" -v b="$floor_s" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')" \
        "$(awk -v a="$kib" -v b="$floor_k" 'BEGIN { printf "%.2f", a / b }')" \
        "$(awk -v a="$awf_s" -v b="$wall" 'BEGIN { if (a == "") print "-"; else printf "%.2f", (b > 0 ? a / b : 0) }')"
    }
    report "ffmpeg s16le" "$floor_s" "$floor_k"
    report mixdown "$wall" "$kib"
    if $has_audiowaveform; then
      report audiowaveform "$awf_s" "$awf_k"
      # Integer PCM decodes to the same samples in both: the files must be identical.
      if [ "$ext" = wav ] || [ "$ext" = flac ]; then
        if cmp -s "$work/mixdown.dat" "$work/awf.dat"; then
          mixdown_info "$name.$ext: outputs identical"
        else
          mixdown_info "$name.$ext: OUTPUTS DIFFER"
        fi
      fi
    fi
  done
done
mixdown_info "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
