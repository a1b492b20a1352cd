# shellcheck shell=bash
# Shared setup for the Mixdown scripts. Sourced by scripts/run.sh and
# scripts/test.sh; not meant to be executed on its own.
#
# Provides:
#   mixdown_info / mixdown_die       messages prefixed "mixdown:"
#   mixdown_as_root CMD...           run CMD as root (directly or via sudo)
#   mixdown_require_cargo            fail fast unless cargo >= MIXDOWN_MIN_RUST
#   mixdown_install_packages PKG...  apt-get install only the missing PKGs
#   mixdown_ffmpeg_env               MIXDOWN_FFMPEG_ENV: runs Mixdown on the lean FFmpeg
#   MIXDOWN_BUILD_PACKAGES           apt packages needed to build and run
#   MIXDOWN_TEST_PACKAGES            extra apt packages needed by the tests

MIXDOWN_MIN_RUST="1.94"

# Debian/Ubuntu packages needed to compile and run Mixdown (FFmpeg bindings
# are generated with bindgen, hence clang/libclang; only the four FFmpeg
# libraries Mixdown calls).
# shellcheck disable=SC2034 # used by the scripts that source this file
MIXDOWN_BUILD_PACKAGES=(
  build-essential pkg-config clang libclang-dev
  libavcodec-dev libavformat-dev libavutil-dev libswresample-dev
  ca-certificates python3 curl
)

# Additional packages for the test suite: media tools used to make fixtures
# and the Postgres/Redis services the integration tests talk to.
# shellcheck disable=SC2034 # used by the scripts that source this file
MIXDOWN_TEST_PACKAGES=(
  ffmpeg sox espeak-ng
  redis-server redis-tools
  postgresql postgresql-client
  curl
)
# The dashboard and playback tests drive a headless Chromium through
# ChromeDriver: Debian packages both; Ubuntu ships them as one snap-backed
# package.
# shellcheck disable=SC2034 # used by the scripts that source this file
if grep -qs '^ID=ubuntu' /etc/os-release; then
  MIXDOWN_TEST_PACKAGES+=(chromium-chromedriver)
else
  MIXDOWN_TEST_PACKAGES+=(chromium chromium-driver)
fi

mixdown_info() { printf 'mixdown: %s\n' "$*" >&2; }
mixdown_die() { printf 'mixdown: error: %s\n' "$*" >&2; exit 1; }

mixdown_is_root() { [ "$(id -u)" -eq 0 ]; }

# Run a command as root: directly when already root, otherwise through sudo.
# Without a terminal (CI) sudo must not prompt, so use `sudo -n`.
mixdown_as_root() {
  if mixdown_is_root; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    if [ -t 0 ]; then sudo "$@"; else sudo -n "$@"; fi
  else
    mixdown_die "need root or sudo to run: $*"
  fi
}

# Make a rustup installation (and tools installed with `cargo install`)
# visible even when ~/.cargo/bin is not on PATH, e.g. in non-login CI shells.
# Appended, so a cargo already on PATH keeps precedence.
mixdown_cargo_path() {
  local bin="${CARGO_HOME:-$HOME/.cargo}/bin"
  case ":$PATH:" in
    *":$bin:"*) ;;
    *) [ -d "$bin" ] && PATH="$PATH:$bin" && export PATH ;;
  esac
  return 0
}

mixdown_require_cargo() {
  mixdown_cargo_path
  local hint="install Rust >= $MIXDOWN_MIN_RUST with rustup (https://rustup.rs), then re-run"
  if ! command -v cargo >/dev/null 2>&1; then
    mixdown_die "cargo not found; $hint"
  fi
  local version major minor want_major want_minor
  version="$(cargo --version 2>/dev/null || true)"
  if [[ ! "$version" =~ ^cargo\ ([0-9]+)\.([0-9]+) ]]; then
    mixdown_die "cannot determine the cargo version ('$version'); $hint"
  fi
  major="${BASH_REMATCH[1]}"
  minor="${BASH_REMATCH[2]}"
  want_major="${MIXDOWN_MIN_RUST%%.*}"
  want_minor="${MIXDOWN_MIN_RUST#*.}"
  if [ "$major" -lt "$want_major" ] || { [ "$major" -eq "$want_major" ] && [ "$minor" -lt "$want_minor" ]; }; then
    mixdown_die "found $major.$minor (${version}), too old; $hint"
  fi
}

mixdown_package_installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

# Install the given apt packages that are not installed yet. Runs
# `apt-get update` at most once per shell, and only when something is missing.
mixdown_install_packages() {
  command -v dpkg-query >/dev/null 2>&1 ||
    mixdown_die "this script supports Debian/Ubuntu (apt) only; install these packages manually: $*"
  local missing=() pkg
  for pkg in "$@"; do
    mixdown_package_installed "$pkg" || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0

  mixdown_info "installing missing packages: ${missing[*]}"
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=300)
  if [ -z "${MIXDOWN_APT_UPDATED:-}" ]; then
    mixdown_as_root "${apt[@]}" update || mixdown_die "apt-get update failed"
    MIXDOWN_APT_UPDATED=1
  fi
  mixdown_as_root "${apt[@]}" install --no-install-recommends "${missing[@]}" ||
    mixdown_die "apt-get install failed for: ${missing[*]}"
}

# Sets MIXDOWN_FFMPEG_ENV to the `env` prefix that runs Mixdown on the FFmpeg
# the image ships (scripts/ffmpeg-lean.sh, built once, ~5-10 min): the
# packaged libraries' sonames without their ~130 dependencies, so each
# process starts some 25 MiB smaller. MIXDOWN_FFMPEG_LIB=DIR names other
# libraries, MIXDOWN_FFMPEG_LIB=system the packaged ones, which also serve
# when the lean ones cannot be built (no apt source lines reachable).
mixdown_ffmpeg_env() {
  local lib=${MIXDOWN_FFMPEG_LIB:-}
  if [ -z "$lib" ] && ! lib=$(scripts/ffmpeg-lean.sh); then
    mixdown_info "the lean FFmpeg could not be built"
    lib=system
  fi
  MIXDOWN_FFMPEG_ENV=(env)
  if [ "$lib" != system ]; then
    MIXDOWN_FFMPEG_ENV+=("LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
  fi
  mixdown_info "Mixdown runs on the FFmpeg libraries of $lib"
}
