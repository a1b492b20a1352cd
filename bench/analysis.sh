#!/usr/bin/env bash
# Music analysis accuracy and cost, beside librosa and fpcalc in the same run.
#
# 1. Builds the development set, three parts, and from every song and recording six
#    variants: MP3 64k, Opus 32k, 9 dB quieter, pink noise at 15 dB SNR, a 30 s excerpt,
#    and the song with its first 10 s cut.
#    - synthetic (bench/analysis/make_set.py): SONGS songs in known keys at known tempi,
#      60 s each; made here, so no licence applies.
#    - performed (bench/analysis/perform_set.py): Bach chorales (public domain) from
#      music21's corpus (BSD-3-Clause, corpus freely distributable), played through
#      fluidsynth by General MIDI instruments of the FluidR3 soundfont
#      (fluid-soundfont-gm, MIT) at a tempo drawn per piece; the key comes from the
#      score: its key signature and the root of its final, authentic cadence.
#    - real (bench/analysis/real_set.sh): 54 produced game soundtracks from Debian,
#      the first 120 s of each: wesnoth-1.16-music (GPL-2+), hyperrogue-music
#      (CC-BY-SA-3.0), asc-music (GPL-2+). No labels: fingerprints only.
# 2. Tempo Accuracy1/Accuracy2 and the MIREX weighted key score of `mixdown analyze` and of
#    librosa (beat_track; chroma_cqt with Krumhansl–Kessler profiles) on the synthetic and
#    performed sets, each and pooled.
# 3. Fingerprint recall (each song against its variants) and false positives (every pair of
#    different songs within a set), synthetic and real apart, by `mixdown analyze --pairs`:
#    the best alignment over every offset, judged by the duplicate rule. Different cues of
#    one soundtrack share instruments and motifs: the real set is where false positives show.
# 4. Cost per 10-minute track (ten songs end to end): `mixdown analyze`, `fpcalc` and
#    librosa, wall and CPU; and a 10-minute track's `mixdown transcode` (four presets and
#    loudness) with and without `--analyze`, the pipeline's overhead.
#
#   bench/analysis.sh [WORK_DIR] [SONGS] [PIECES]
#
# SONGS synthetic songs (48) and PIECES performed chorales (60). WORK_DIR defaults to
# ${TMPDIR:-/tmp}/mixdown-analysis-bench (about 4 GB); files are made once and reused.
# librosa and music21 run in a venv under ${XDG_CACHE_HOME:-$HOME/.cache}/mixdown.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh

work=${1:-${TMPDIR:-/tmp}/mixdown-analysis-bench}
songs=${2:-48}
pieces=${3:-60}
mixdown_install_packages ffmpeg sox time libchromaprint-tools python3-venv \
  fluidsynth fluid-soundfont-gm
mixdown_require_cargo
venv=${XDG_CACHE_HOME:-$HOME/.cache}/mixdown/pyvenv-analysis
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import librosa, soundfile, music21' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet librosa soundfile music21 >&2
fi
py=$venv/bin/python
target=${CARGO_TARGET_DIR:-target}
cargo build --release --locked -p mixdown >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin=$tmp/mixdown
cp "$target/release/mixdown" "$bin"

mixdown_info "rendering $songs songs, $pieces chorales and the real recordings into $work"
"$py" bench/analysis/make_set.py "$work" "$songs"
"$py" bench/analysis/perform_set.py "$work/performed" /usr/share/sounds/sf2/FluidR3_GM.sf2 "$pieces"
bench/analysis/real_set.sh "$work/real"
synthetic=("$work"/songs/*.wav)
real=("$work"/real/tracks/*.flac)
ff=(ffmpeg -nostdin -loglevel error -y)
rms_db() { sox "$1" -n stats 2>&1 | awk '/RMS lev dB/ { print $4 }'; }
pink=$work/pink.wav
[ -s "$pink" ] || sox -R -n -r 44100 -c 2 -b 16 "$pink" synth 60 pinknoise gain -10
pink_db=$(rms_db "$pink")
# Writes the six variants of each SONG into DIR as NAME_VARIANT.EXT.
make_variants() {
  local dir=$1 song name out rms gain
  shift
  mkdir -p "$dir"
  for song in "$@"; do
    name=$(basename "${song%.*}")
    out=$dir/$name
    [ -s "${out}_mp3_64k.mp3" ] || "${ff[@]}" -i "$song" -c:a libmp3lame -b:a 64k "${out}_mp3_64k.mp3"
    [ -s "${out}_opus_32k.ogg" ] || "${ff[@]}" -i "$song" -c:a libopus -b:a 32k "${out}_opus_32k.ogg"
    [ -s "${out}_minus_9db.flac" ] || "${ff[@]}" -i "$song" -af volume=-9dB "${out}_minus_9db.flac"
    if [ ! -s "${out}_pink_15db.flac" ]; then
      # Pink noise 15 dB below the song's RMS level (looped: the real tracks are longer).
      rms=$(rms_db "$song")
      gain=$(awk -v s="$rms" -v n="$pink_db" 'BEGIN { printf "%.2f", s - 15 - n }')
      sox -m -v 1 "$song" -v 1 "|sox $pink -p gain $gain repeat 1" "${out}_pink_15db.flac" \
        trim 0 "$(soxi -D "$song")" 2>/dev/null
    fi
    [ -s "${out}_excerpt_30s.flac" ] || "${ff[@]}" -ss 15 -t 30 -i "$song" "${out}_excerpt_30s.flac"
    [ -s "${out}_cut_10s.flac" ] || "${ff[@]}" -ss 10 -i "$song" "${out}_cut_10s.flac"
  done
}
make_variants "$work/variants" "${synthetic[@]}"
make_variants "$work/real/variants" "${real[@]}"

# Runs "$@" under /usr/bin/time; prints "wall_s cpu_s" (CPU includes children).
measure() {
  /usr/bin/time -f '%e %U %S' -o "$tmp/time" "$@" >"$tmp/out" 2>"$tmp/stderr" ||
    { cat "$tmp/stderr" >&2; return 1; }
  awk '{ printf "%s %.2f\n", $1, $2 + $3 }' "$tmp/time"
}

mixdown_info "tempo and key: mixdown and librosa"
# The labels list the pieces of this run: the folder may hold others from earlier runs.
mapfile -t performed < <(tail -n +2 "$work/performed/labels.csv" | cut -d, -f1)
labelled=("${synthetic[@]}" "${performed[@]}")
"$bin" analyze "${labelled[@]}" >"$tmp/mixdown.jsonl"
"$py" bench/analysis/librosa_run.py "${labelled[@]}" >"$tmp/librosa.jsonl" 2>/dev/null
mixdown_info "fingerprints: every song against its variants, and every two songs of a set"
# Writes to OUT the pairs of each SONG with its variants in DIR, then of every two SONGs.
pairs() {
  local out=$1 dir=$2 song
  shift 2
  : >"$out"
  for song in "$@"; do
    "$bin" analyze --pairs "$song" "$dir/$(basename "${song%.*}")"_* | grep '"duplicate"' >>"$out"
  done
  "$bin" analyze --pairs "$@" | grep '"duplicate"' >>"$out"
}
pairs "$tmp/pairs-synthetic.jsonl" "$work/variants" "${synthetic[@]}"
pairs "$tmp/pairs-real.jsonl" "$work/real/variants" "${real[@]}"
"$py" bench/analysis/score.py --labels synthetic="$work/labels.csv" \
  --labels performed="$work/performed/labels.csv" \
  --pairs synthetic="$tmp/pairs-synthetic.jsonl" --pairs real="$tmp/pairs-real.jsonl" \
  "$tmp/mixdown.jsonl" "$tmp/librosa.jsonl"

mixdown_info "cost per 10-minute track"
long=$work/10min.wav
[ -s "$long" ] || sox "${synthetic[@]:0:10}" "$long"
echo
printf '%-28s %8s %8s %8s\n' tool wall_s cpu_s ratio
read -r m_wall m_cpu < <(measure "$bin" analyze "$long")
# fpcalc 1.5.1 on FFmpeg 5+ (Debian 12) ends every file with "Error decoding audio frame (End
# of file)" and exit status 3, its code for a fingerprint made despite a decoding error.
# shellcheck disable=SC2016 # $1 and $rc belong to the inner shell
read -r f_wall f_cpu < <(measure bash -c \
  'fpcalc -length 0 "$1"; rc=$?; [ $rc -eq 0 ] || [ $rc -eq 3 ]' _ "$long")
read -r l_wall l_cpu < <(measure "$py" bench/analysis/librosa_run.py "$long")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
printf '%-28s %8s %8s %8s\n' "mixdown analyze" "$m_wall" "$m_cpu" 1.00
printf '%-28s %8s %8s %8s\n' "fpcalc (fingerprint only)" "$f_wall" "$f_cpu" "$(ratio "$f_cpu" "$m_cpu")"
printf '%-28s %8s %8s %8s\n' "librosa (tempo + key)" "$l_wall" "$l_cpu" "$(ratio "$l_cpu" "$m_cpu")"
read -r t_wall t_cpu < <(measure "$bin" transcode -i "$long" -o "$tmp/plain")
read -r a_wall a_cpu < <(measure "$bin" transcode --analyze -i "$long" -o "$tmp/analysed")
printf '%-28s %8s %8s %8s\n' "transcode" "$t_wall" "$t_cpu" 1.00
printf '%-28s %8s %8s %8s\n' "transcode --analyze" "$a_wall" "$a_cpu" "$(ratio "$a_cpu" "$t_cpu")"
echo "pipeline overhead of the analysis: wall $(ratio "$a_wall" "$t_wall")x, CPU $(ratio "$a_cpu" "$t_cpu")x"
