#!/usr/bin/env bash
# One-pass transcoding against the ffmpeg command line. For each 10-minute stereo input
# (WAV 44.1 kHz 16-bit, MP3 320k, FLAC) it times, in one run:
#   mixdown  `mixdown transcode` with the four default presets and loudness, one decode;
#   ffmpeg   the same outputs one ffmpeg invocation each, run one after the other as a
#            fluent-ffmpeg stack would (MP3 128k CBR; AAC 160k HLS in 10 s segments; Opus
#            64k Ogg; a 30 s MP3 128k preview), then `-af ebur128=peak=true -f null -`.
# and prints wall and CPU (user+sys) seconds, x-realtime, peak RSS and the ffmpeg/mixdown
# ratios. Then a 3-hour WAV goes through `mixdown transcode` alone under `/usr/bin/time -v`
# for its peak RSS, which must not grow with the input.
#
#   bench/transcode.sh [INPUT_DIR]
#
# INPUT_DIR defaults to ${TMPDIR:-/tmp}/mixdown-transcode-bench (about 2.2 GB); inputs are
# made once and reused. Mixdown runs on the FFmpeg the image ships (scripts/ffmpeg-lean.sh,
# built once; MIXDOWN_FFMPEG_LIB=system for the packaged libraries, which the ffmpeg
# command line always uses).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh

inputs=${1:-${TMPDIR:-/tmp}/mixdown-transcode-bench}
mixdown_install_packages ffmpeg sox time
mixdown_require_cargo
target=${CARGO_TARGET_DIR:-target}
cargo build --release -p mixdown >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The target directory may be shared with other builds: time a copy none of them replaces.
bin=$work/mixdown
cp "$target/release/mixdown" "$bin"
mixdown_ffmpeg_env
run_mixdown=("${MIXDOWN_FFMPEG_ENV[@]}" "$bin")
mkdir -p "$inputs"

make_wav() {
  local path=$1 seconds=$2
  [ -s "$path" ] && return
  mixdown_info "making $(basename "$path") ($seconds s)"
  # Music-like: two tones and pink noise under a slow tremolo, the same on every run.
  sox -R -D -n -r 44100 -c 2 -b 16 "$path" synth "$seconds" sine 220 sine 330 \
    synth "$seconds" pinknoise mix tremolo 0.5 40 gain -6
}

make_wav "$inputs/10min.wav" 600
[ -s "$inputs/10min.mp3" ] ||
  ffmpeg -nostdin -loglevel error -y -i "$inputs/10min.wav" -c:a libmp3lame -b:a 320k "$inputs/10min.mp3"
[ -s "$inputs/10min.flac" ] ||
  ffmpeg -nostdin -loglevel error -y -i "$inputs/10min.wav" "$inputs/10min.flac"
make_wav "$inputs/3h.wav" 10800

# Runs "$@" under /usr/bin/time; prints "wall_s cpu_s peak_kib" (CPU includes children).
measure() {
  /usr/bin/time -f '%e %U %S %M' -o "$work/time" "$@" >/dev/null 2>"$work/stderr" ||
    { cat "$work/stderr" >&2; return 1; }
  awk '{ printf "%s %.2f %s\n", $1, $2 + $3, $4 }' "$work/time"
}

# The ffmpeg route: one invocation per output, in sequence, then the loudness pass.
ffmpeg_route() {
  local input=$1 out=$2
  local ff=(ffmpeg -nostdin -loglevel error -y -i "$input")
  mkdir -p "$out/aac_hls_160"
  "${ff[@]}" -c:a libmp3lame -b:a 128k "$out/mp3_128.mp3"
  "${ff[@]}" -c:a aac -b:a 160k -f hls -hls_time 10 -hls_playlist_type vod \
    -hls_segment_filename "$out/aac_hls_160/segment_%05d.ts" "$out/aac_hls_160/playlist.m3u8"
  "${ff[@]}" -c:a libopus -b:a 64k "$out/opus_64.ogg"
  "${ff[@]}" -t 30 -c:a libmp3lame -b:a 128k "$out/preview_mp3.mp3"
  ffmpeg -nostdin -hide_banner -nostats -i "$input" -af ebur128=peak=true -f null - 2>"$out/ebur128.txt"
}
export -f ffmpeg_route

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
row() { printf '%-11s %-8s %8s %8s %10s %9s\n' "$@"; }

seconds=600
# Other work on the machine shifts every ratio: say how busy it was.
mixdown_info "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
row input route wall_s cpu_s x_realtime peak_MiB
summary=()
for ext in wav mp3 flac; do
  input="$inputs/10min.$ext"
  rm -rf "$work/mixdown-out" "$work/ffmpeg-out"
  read -r m_wall m_cpu m_kib < <(measure "${run_mixdown[@]}" transcode -i "$input" -o "$work/mixdown-out")
  read -r f_wall f_cpu f_kib < <(measure bash -c 'ffmpeg_route "$0" "$1"' "$input" "$work/ffmpeg-out")
  row "10min.$ext" mixdown "$m_wall" "$m_cpu" "$(ratio $seconds "$m_wall")" "$((m_kib / 1024))"
  row "10min.$ext" ffmpeg "$f_wall" "$f_cpu" "$(ratio $seconds "$f_wall")" "$((f_kib / 1024))"
  summary+=("10min.$ext: ffmpeg/mixdown wall $(ratio "$f_wall" "$m_wall")x, cpu $(ratio "$f_cpu" "$m_cpu")x")
done
printf '%s\n' "${summary[@]}"

rm -rf "$work/mixdown-out"
/usr/bin/time -v -o "$work/time-v" "${run_mixdown[@]}" transcode -i "$inputs/3h.wav" -o "$work/mixdown-out" >/dev/null
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { print $2 }' "$work/time-v")
rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time-v")
echo "3h.wav: mixdown transcode wall $wall, peak RSS $((rss / 1024)) MiB"
mixdown_info "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
