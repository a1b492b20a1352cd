#!/usr/bin/env bash
# Builds the Mixdown image from the Dockerfile with buildah, then checks it:
# `mixdown --help`, and a `mixdown dev` inside it that runs a noop job
# submitted over HTTP. Prints the image's size.
#
#   scripts/image.sh            (as root; a release build: tens of minutes on 2 cores)
#
# Where no registry can be pulled from, the Dockerfile's two bases are made
# here once and kept in buildah's storage under the names its FROM lines
# use: debian:bookworm-slim from `debootstrap --variant=minbase`, and
# rust:VERSION-slim-bookworm from the same plus gcc and this machine's Rust
# toolchain (the one `rustc` runs), laid out as the official image lays it.
# Set MIXDOWN_PULL_BASES=1 to pull the real ones instead.
#
# Environment: MIXDOWN_IMAGE (default localhost/mixdown:latest),
# MIXDOWN_DEBIAN_MIRROR (default http://deb.debian.org/debian),
# CARGO_BUILD_JOBS (passed to the build stage; default 2).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh

image=${MIXDOWN_IMAGE:-localhost/mixdown:latest}
mirror=${MIXDOWN_DEBIAN_MIRROR:-http://deb.debian.org/debian}
release=$(sed -n 's/^ARG DEBIAN_RELEASE=//p' Dockerfile)
rust_version=$(sed -n 's/^ARG RUST_VERSION=//p' Dockerfile)
runtime_base=docker.io/library/debian:${release}-slim
build_base=docker.io/library/rust:${rust_version}-slim-${release}

mixdown_is_root || mixdown_die "scripts/image.sh runs buildah and debootstrap as root"
mixdown_install_packages buildah debootstrap curl python3 sox ffmpeg
mixdown_cargo_path

# The build stage's layers hold a release target directory, committed once
# with the dependencies and again with the workspace: about 15 GiB at peak.
storage=$(buildah info --format '{{.store.GraphRoot}}' 2>/dev/null || echo /var/lib/containers)
mkdir -p "$storage"
free_gib=$(($(df --output=avail -k "$storage" | tail -n 1) / 1024 / 1024))
[ "$free_gib" -ge 15 ] ||
  mixdown_die "$free_gib GiB free under $storage; the image build needs about 15 GiB"

have_image() { buildah inspect --type image "$1" >/dev/null 2>&1; }

# A minbase Debian in DIR with the release's updates and security suites,
# as the official images have them. Extra arguments go to debootstrap.
bootstrap() {
  local dir=$1
  shift
  mixdown_info "debootstrap $release into $dir $*"
  debootstrap --variant=minbase "$@" "$release" "$dir" "$mirror" >"$dir.log" 2>&1 ||
    { tail -n 20 "$dir.log" >&2; mixdown_die "debootstrap failed (log: $dir.log)"; }
  # In deb822 form with the archive key named, as the official images
  # write them (a one-line entry beside them must name the same key).
  rm -f "$dir/etc/apt/sources.list"
  cat >"$dir/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $release $release-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: $release-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  slim "$dir"
  trust_host_roots "$dir"
}

# What the official slim images leave out, now and in what apt installs
# later: documentation, manuals and translations.
slim() {
  local dir=$1 path
  local excluded=(doc man groff info lintian linda locale)
  for path in "${excluded[@]}"; do
    echo "path-exclude /usr/share/$path/*"
    rm -rf "${dir:?}/usr/share/$path"/*
  done >"$dir/etc/dpkg/dpkg.cfg.d/slim"
  echo "path-include /usr/share/doc/*/copyright" >>"$dir/etc/dpkg/dpkg.cfg.d/slim"
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb
}

# The bases trust the roots this machine trusts beyond Debian's own (a TLS
# proxy's, say), so apt, cargo and pip inside the build reach what the host
# reaches: they go where update-ca-certificates takes local roots from.
trust_host_roots() {
  local dir=$1/usr/local/share/ca-certificates
  mkdir -p "$dir"
  python3 - /etc/ssl/certs/ca-certificates.crt "$dir" <<'PY'
import glob, re, sys
pem = re.compile(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", re.S)
key = lambda block: "".join(block.split())
debian = {key(b) for path in glob.glob("/usr/share/ca-certificates/**/*.crt", recursive=True)
          for b in pem.findall(open(path).read())}
extra = [b for b in pem.findall(open(sys.argv[1]).read()) if key(b) not in debian]
for i, block in enumerate(extra):
    with open(f"{sys.argv[2]}/host-root-{i}.crt", "w") as f:
        f.write(block + "\n")
PY
  if [ -x "$1/usr/sbin/update-ca-certificates" ]; then
    chroot "$1" update-ca-certificates >/dev/null
  fi
}

# Commits DIR as image NAME, with the environment given as KEY=VALUE.
commit_dir() {
  local dir=$1 name=$2 ctr
  shift 2
  ctr=$(buildah from scratch)
  buildah add --quiet "$ctr" "$dir" / >/dev/null
  local env_args=() kv
  for kv in "$@"; do env_args+=(--env "$kv"); done
  buildah config "${env_args[@]}" --cmd bash "$ctr"
  buildah commit --quiet --rm "$ctr" "$name" >/dev/null
  mixdown_info "made base image $name"
}

make_runtime_base() {
  local dir=$work/debian
  bootstrap "$dir"
  commit_dir "$dir" "$runtime_base" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
}

make_build_base() {
  local toolchain
  toolchain=$(rustc --print sysroot)
  local have
  have=$(rustc --version | awk '{print $2}')
  [[ $have == "$rust_version" || $have == "$rust_version".* ]] ||
    mixdown_die "the Dockerfile builds with Rust $rust_version but this machine's rustc is $have"
  local dir=$work/rust
  bootstrap "$dir" --include=ca-certificates,gcc,libc6-dev
  local dest=$dir/usr/local/rustup/toolchains/$have-x86_64-unknown-linux-gnu
  mkdir -p "$dest" "$dir/usr/local/cargo/bin"
  # The compiler and its standard library; its documentation stays behind.
  cp -a --reflink=auto "$toolchain"/{bin,lib,libexec} "$dest"/
  local tool
  for tool in cargo rustc rustdoc; do
    ln -s "../../rustup/toolchains/$have-x86_64-unknown-linux-gnu/bin/$tool" "$dir/usr/local/cargo/bin/$tool"
  done
  commit_dir "$dir" "$build_base" \
    RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo RUST_VERSION="$have" \
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
}

work=$(mktemp -d /var/tmp/mixdown-image.XXXXXX)
dev_pgid=
cleanup() {
  [ -n "$dev_pgid" ] && kill -- "-$dev_pgid" 2>/dev/null
  [ -n "${smoke_ctr:-}" ] && buildah rm "$smoke_ctr" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

pull=never
if [ -n "${MIXDOWN_PULL_BASES:-}" ]; then
  pull=missing
else
  have_image "$runtime_base" || make_runtime_base
  have_image "$build_base" || make_build_base
fi

mixdown_info "building $image (release; the dependency layer is cached after the first build)"
started=$(date +%s)
buildah bud --isolation chroot --format docker --layers --pull="$pull" \
  --build-arg CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}" -t "$image" .
mixdown_info "built in $(($(date +%s) - started)) s"

smoke_ctr=$(buildah from --pull=never "$image")
mixdown_info "mixdown --help"
buildah run --isolation chroot "$smoke_ctr" -- mixdown --help | head -n 12

# The image's own FFmpeg decodes what symphonia leaves to it (Opus, MP4)
# and holds every encoder of the presets.
sox -n -r 44100 -c 2 "$work/tone.wav" synth 5 sine 440
ffmpeg -loglevel error -i "$work/tone.wav" "$work/tone.opus"
ffmpeg -loglevel error -i "$work/tone.wav" -c:a aac "$work/tone.m4a"
for input in tone.wav tone.opus tone.m4a; do
  buildah copy --quiet --chown 10001:10001 "$smoke_ctr" "$work/$input" "/tmp/$input" >/dev/null
  buildah run --isolation chroot "$smoke_ctr" -- mixdown transcode -i "/tmp/$input" -o "/tmp/out-$input" \
    >"$work/transcode.json" || mixdown_die "mixdown transcode of $input failed in the image"
  mixdown_info "transcoded $input: $(python3 -c 'import json, sys
report = json.load(sys.stdin)
print(", ".join(r["preset"] for r in report["renditions"]))' <"$work/transcode.json")"
done

# `mixdown dev` in the image, on a free port of this host's loopback (chroot
# isolation shares the host's network), with a noop job through its API.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$work/dev.log
setsid buildah run --isolation chroot --env MIXDOWN_LISTEN="127.0.0.1:$port" \
  "$smoke_ctr" -- mixdown dev >"$log" 2>&1 &
dev_pgid=$!
key=
for _ in $(seq 1 60); do
  key=$(sed -n 's/^API key of tenant "dev": //p' "$log")
  [ -n "$key" ] && break
  kill -0 "$dev_pgid" 2>/dev/null || { cat "$log" >&2; mixdown_die "mixdown dev stopped"; }
  sleep 1
done
[ -n "$key" ] || { cat "$log" >&2; mixdown_die "mixdown dev printed no key within 60 s"; }
base=http://127.0.0.1:$port
curl -fsS "$base/readyz" >/dev/null
job=$(curl -fsS -X POST "$base/v1/jobs" -H "Authorization: Bearer $key" \
  -H 'Content-Type: application/json' -d '{"kind": "noop", "payload": {"sleep_ms": 100}}')
id=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["job_id"])' <<<"$job")
state=$(curl -fsS "$base/v1/jobs/$id?wait=30" -H "Authorization: Bearer $key" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["state"])')
[ "$state" = succeeded ] || { cat "$log" >&2; mixdown_die "noop job $id ended $state"; }
mixdown_info "noop job $id succeeded in the image's mixdown dev"
buildah run --isolation chroot --env MIXDOWN_LISTEN="127.0.0.1:$port" "$smoke_ctr" -- mixdown-healthcheck ||
  mixdown_die "the image's health check failed against a running mixdown dev"
mixdown_info "health check passed"

model=$(buildah run --isolation chroot "$smoke_ctr" -- stat -c %s /usr/share/mixdown/voice/pretrained.pt)
echo "image $image: $(buildah images --noheading --format '{{.Size}}' "$image") ($model bytes of it the voice model)"
