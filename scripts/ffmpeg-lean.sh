#!/usr/bin/env bash
# Builds the FFmpeg Mixdown ships: the distribution's own FFmpeg source (the
# version the crates bind, so the libraries are interchangeable with the
# packaged ones) with every decoder, demuxer and muxer but only the encoders
# Mixdown uses (AAC, LAME, Opus) and none of the external libraries,
# devices, filters or scalers it never calls. Debian's packaged FFmpeg links
# some 130 libraries (x265, codec2, librsvg, gnutls, ICU, …) that every
# Mixdown process would map at start: a waveform peaks at 37-45 MiB with
# them and 13-20 MiB with these.
#
#   scripts/ffmpeg-lean.sh [PREFIX]
#
# PREFIX defaults to ${XDG_CACHE_HOME:-$HOME/.cache}/mixdown/ffmpeg-lean; an
# existing build there is kept. Prints PREFIX/lib. The image builds into
# /usr/local; elsewhere Mixdown runs on it with LD_LIBRARY_PATH=PREFIX/lib
# (as scripts/run.sh and bench/waveform.sh do): the binary is built against
# the packaged libraries of the same version, whose sonames these keep.
# Needs apt source lines (added beside the package lines when missing) and
# about 5-10 minutes on two cores.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh

prefix=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/mixdown/ffmpeg-lean}
# Stdout carries the library directory alone; apt's and the build's chatter
# goes to stderr.
exec 3>&1 1>&2
if [ -e "$prefix/lib/libavcodec.so" ]; then
  echo "$prefix/lib" >&3
  exit 0
fi

# Source lines for the mirrors, suites and keys the distribution's package
# lines name, in the form they are written in: deb822 stanzas
# (/etc/apt/sources.list.d/debian.sources or ubuntu.sources, as Debian 12's
# and Ubuntu 24.04's images have) or one-line `deb` entries in
# /etc/apt/sources.list. Both forms are read, so an existing `deb-src` is
# never added twice.
if ! grep -rqsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  . /etc/os-release
  distribution=/etc/apt/sources.list.d/$ID.sources
  if [ -s "$distribution" ]; then
    file=/etc/apt/sources.list.d/mixdown-src.sources
    lines=$(sed 's/^Types:.*/Types: deb-src/' "$distribution")
  else
    file=/etc/apt/sources.list.d/mixdown-src.list
    lines=$(sed -n 's/^deb /deb-src /p' /etc/apt/sources.list 2>/dev/null || true)
  fi
  [ -n "$lines" ] || mixdown_die "no apt package lines to derive source lines from"
  mixdown_info "adding apt source lines in $file"
  echo "$lines" | mixdown_as_root tee "$file" >/dev/null
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
echo "$prefix/lib" >&3
