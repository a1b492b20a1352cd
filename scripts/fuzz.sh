#!/usr/bin/env bash
# Fuzzes what reads clients' bytes — the probe and decoders, the tag reader, the waveform
# path and the voice engine — with libFuzzer through cargo-fuzz, on stable Rust (no
# sanitizer; debug assertions on, so overflows panic).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 600 s, every target)
#
# Seeds are small files of every container and codec Mixdown takes, made with sox, ffmpeg
# and espeak-ng into fuzz/corpus/<target>/ on first use; the corpus then grows there.
# A crash, hang (over 10 s) or allocation past 512 MiB stops that target and leaves the
# input in fuzz/artifacts/<target>/; reproduce with
#   cd fuzz && cargo fuzz run -s none -a --release <target> artifacts/<target>/<file>
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(decode tags waveform voice)

log() { echo "fuzz: $*" >&2; }

if ! command -v cargo-fuzz >/dev/null; then
  log "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
wants_voice=false
for target in "${targets[@]}"; do [ "$target" = voice ] && wants_voice=true; done
for tool in sox ffmpeg $($wants_voice && echo espeak-ng); do
  command -v "$tool" >/dev/null || "$root/scripts/setup.sh"
done

# Writes seed audio for the decoders and the tag reader into $1.
audio_seeds() {
  local dir=$1 tmp
  tmp=$(mktemp -d)
  sox -n -r 44100 -c 2 -b 16 "$tmp/tone.wav" synth 0.4 sine 440 sine 660 gain -3
  sox -n -r 8000 -c 1 -b 8 -e unsigned-integer "$dir/u8.wav" synth 0.3 sine 300
  sox -n -r 48000 -c 1 -b 24 "$dir/s24.wav" synth 0.3 pinknoise gain -6
  sox -n -r 96000 -c 2 -b 32 -e floating-point "$dir/f32.wav" synth 0.2 sine 1000
  sox -n -r 22050 -c 6 -b 16 "$dir/six.wav" synth 0.2 sine 200
  sox "$tmp/tone.wav" "$dir/tone.aiff"
  sox "$tmp/tone.wav" -C 5 "$dir/tone.flac"
  cp "$tmp/tone.wav" "$dir/tone.wav"
  # A tiny PNG to carry as cover art.
  ffmpeg -v error -f lavfi -i color=c=red:s=4x4 -frames:v 1 "$tmp/cover.png"
  local meta=(-metadata title="Seed title" -metadata artist="Seed artist" -metadata album="Seed")
  ffmpeg -v error -i "$tmp/tone.wav" -i "$tmp/cover.png" -map 0:a -map 1 -c:a libmp3lame \
    -b:a 64k -c:v copy -id3v2_version 3 "${meta[@]}" "$dir/tagged.mp3"
  ffmpeg -v error -i "$tmp/tone.wav" -i "$tmp/cover.png" -map 0:a -map 1 -c:a flac \
    -c:v copy -disposition:v attached_pic "${meta[@]}" "$dir/tagged.flac"
  ffmpeg -v error -i "$tmp/tone.wav" -c:a libvorbis -q:a 0 "${meta[@]}" "$dir/tone.ogg"
  ffmpeg -v error -i "$tmp/tone.wav" -c:a libopus -b:a 24k "${meta[@]}" "$dir/tone.opus"
  ffmpeg -v error -i "$tmp/tone.wav" -c:a aac -b:a 48k "${meta[@]}" "$dir/tone.m4a"
  ffmpeg -v error -i "$tmp/tone.wav" -c:a aac -b:a 48k -f adts "$dir/tone.aac"
  ffmpeg -v error -i "$tmp/tone.wav" -c:a flac -f matroska "$dir/tone.mka"
  rm -rf "$tmp"
}

# Writes seed speech for the voice engine into $1, in its input form (see fuzz_targets/voice.rs).
voice_seeds() {
  local dir=$1 tmp
  tmp=$(mktemp -d)
  espeak-ng -w "$tmp/speech.wav" "Seven four two nine, my voice is my password, verify me."
  # Rate index 2 is 16 kHz, 0 is 8 kHz.
  { printf '\x02'; sox "$tmp/speech.wav" -t raw -r 16000 -c 1 -b 16 -e signed -L -; } \
    >"$dir/speech-16k"
  { printf '\x00'; sox "$tmp/speech.wav" -t raw -r 8000 -c 1 -b 16 -e signed -L - trim 0 2; } \
    >"$dir/speech-8k"
  rm -rf "$tmp"
}

if $wants_voice && [ "${MIXDOWN_VOICE_MODEL:-}" = "" ]; then
  MIXDOWN_VOICE_MODEL=$("$root/scripts/voice-model.sh")
  export MIXDOWN_VOICE_MODEL
fi

cd "$root/fuzz"
for target in "${targets[@]}"; do
  corpus="corpus/$target"
  if [ ! -d "$corpus" ] || [ -z "$(ls -A "$corpus")" ]; then
    mkdir -p "$corpus"
    case $target in
      voice) voice_seeds "$corpus" ;;
      waveform)
        # Its first byte picks the options (see fuzz_targets/waveform.rs).
        audio_seeds "$corpus"
        for f in "$corpus"/*; do
          { printf '\x00'; cat "$f"; } >"$f.plain"
          { printf '\xf3'; cat "$f"; } >"$f.bars"
          rm "$f"
        done
        ;;
      *) audio_seeds "$corpus" ;;
    esac
    log "seeded $corpus with $(ls "$corpus" | wc -l) files"
  fi
  mkdir -p "artifacts/$target"
  log "running $target for ${seconds}s"
  cargo fuzz run -s none -a --release "$target" "$corpus" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 -malloc_limit_mb=512 \
    -max_len=262144 -print_final_stats=1 -artifact_prefix="artifacts/$target/"
done
