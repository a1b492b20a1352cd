#!/usr/bin/env bash
# Build and run Mixdown in embedded "dev" mode (SQLite, in-process queue,
# local storage directory), so no external services are needed.
# Installs the missing Debian/Ubuntu build packages first and builds the lean
# FFmpeg (scripts/ffmpeg-lean.sh) once. Extra arguments go
# to `mixdown dev`, e.g. `scripts/run.sh --help`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh

mixdown_require_cargo
mixdown_install_packages "${MIXDOWN_BUILD_PACKAGES[@]}"
# Voice jobs need the encoder's weights; the default voice_model setting
# points where this puts them.
scripts/voice-model.sh >/dev/null
mixdown_ffmpeg_env
exec "${MIXDOWN_FFMPEG_ENV[@]}" cargo run --release -p mixdown -- dev "$@"
