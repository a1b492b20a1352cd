#!/usr/bin/env bash
# Builds the FFmpeg Mixdown ships: the distribution's own FFmpeg source (the
# version the crates bind, so the libraries are interchangeable with the
# packaged ones) with every decoder, demuxer and muxer but only the encoders
# Mixdown uses (AAC, LAME, Opus) and none of the external libraries,
# devices, filters or scalers it never calls. Debian's packaged FFmpeg links
# some 130 libraries (x265, codec2, librsvg, gnutls, ICU, …) that every
# Mixdown process would map at start: a waveform peaks at 41-43 MiB with
# them and 17-20 MiB with these.
#
#   scripts/ffmpeg-lean.sh [PREFIX]
#
# PREFIX defaults to ${XDG_CACHE_HOME:-$HOME/.cache}/mixdown/ffmpeg-lean; an
# existing build there is kept. The image builds into /usr/local; elsewhere,
# run Mixdown with LD_LIBRARY_PATH=PREFIX/lib (bench/waveform.sh takes
# MIXDOWN_FFMPEG_LIB). Needs apt source lines (added for the distribution's
# main component when missing) and about 10 minutes on two cores.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh

prefix=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/mixdown/ffmpeg-lean}
if [ -e "$prefix/lib/libavcodec.so" ]; then
  mixdown_info "FFmpeg already built in $prefix"
  exit 0
fi

# One-line (`deb-src …`) and deb822 (`Types: deb deb-src`) source files alike.
if ! grep -rqsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  . /etc/os-release
  case "$ID" in
    debian) line="deb-src http://deb.debian.org/debian $VERSION_CODENAME main" ;;
    ubuntu) line="deb-src http://archive.ubuntu.com/ubuntu $VERSION_CODENAME main universe" ;;
    *) mixdown_die "no apt source lines, and no known mirror for $ID" ;;
  esac
  mixdown_info "adding apt source lines: $line"
  echo "$line" | mixdown_as_root tee /etc/apt/sources.list.d/mixdown-src.list >/dev/null
  mixdown_as_root apt-get -q update
  MIXDOWN_APT_UPDATED=1
fi
mixdown_install_packages build-essential pkg-config nasm xz-utils \
  zlib1g-dev libmp3lame-dev libopus-dev

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
apt-get source --download-only ffmpeg >/dev/null 2>&1 ||
  mixdown_die "apt-get source ffmpeg failed (are the deb-src lines reachable?)"
tar -xJf ffmpeg_*.orig.tar.xz --strip-components=1
mixdown_info "building FFmpeg $(cat VERSION 2>/dev/null || ls ffmpeg_*.dsc) into $prefix"
./configure --prefix="$prefix" --enable-shared --disable-static \
  --disable-programs --disable-doc --disable-avdevice --disable-avfilter \
  --disable-swscale --disable-postproc --disable-network --disable-autodetect \
  --disable-hwaccels --disable-indevs --disable-outdevs --disable-encoders \
  --enable-encoder=aac,libmp3lame,libopus \
  --enable-zlib --enable-libmp3lame --enable-libopus >configure.log ||
  { tail -20 configure.log >&2; mixdown_die "FFmpeg's configure failed"; }
make -j"${CARGO_BUILD_JOBS:-$(nproc)}" >make.log 2>&1 ||
  { tail -30 make.log >&2; mixdown_die "building FFmpeg failed"; }
make install >/dev/null
mixdown_info "FFmpeg built: $prefix/lib"
