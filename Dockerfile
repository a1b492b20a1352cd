# The one Mixdown image. Every role is a subcommand of the same binary:
#
#   docker build -t mixdown .
#   docker run mixdown api | worker --queues ingest,track,transcode | migrate | keys create --tenant NAME
#
# With no arguments it runs `dev` (API and workers in one process, embedded
# stores under /var/lib/mixdown). scripts/image.sh builds and smoke-tests it
# with buildah.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM docker.io/library/rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS build
ARG DEBIAN_RELEASE
# Unset, cargo and make use every core; set it to share a busy machine.
ARG CARGO_BUILD_JOBS
# FFmpeg is built from Debian's own source (the 5.1 the crates bind) with
# only the encoders Mixdown uses (LAME, AAC, Opus), every decoder, and none
# of the external libraries, filters or scalers it never calls: Debian's
# packaged libraries link some 130 more (x265, codec2, mesa, ICU, …), would
# put ~300 MB under the runtime image and double a process's memory at
# start. bindgen reads its headers through libclang.
COPY scripts/setup.sh scripts/ffmpeg-lean.sh /tmp/scripts/
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      pkg-config clang libclang-dev \
 && MIXDOWN_APT_UPDATED=1 /tmp/scripts/ffmpeg-lean.sh /usr/local \
 && rm -rf /tmp/scripts /var/lib/apt/lists/* \
 && ldconfig
WORKDIR /src

# Dependencies first, against empty crates: this layer is built again only
# when a manifest or the lock file changes, not when the code does.
COPY Cargo.toml Cargo.lock ./
COPY api/Cargo.toml api/
COPY jobs/Cargo.toml jobs/
COPY media/Cargo.toml media/
COPY mixdown/Cargo.toml mixdown/
COPY settings/Cargo.toml settings/
COPY testkit/Cargo.toml testkit/
COPY voice/Cargo.toml voice/
COPY worker/Cargo.toml worker/
RUN for crate in api jobs media settings testkit voice worker; do \
      mkdir -p "$crate/src" && : > "$crate/src/lib.rs"; \
    done \
 && mkdir -p mixdown/src && echo 'fn main() {}' > mixdown/src/main.rs \
 && cargo build --release --locked -p mixdown

COPY . .
# The copied sources keep their own, older times; touched, cargo sees them
# as newer than the empty crates it built above. The line tables stay in this
# stage (target/release/mixdown.debug, to symbolise a backtrace with); the
# shipped binary keeps its symbols, so a backtrace still names its functions.
# Even compressed, the tables were 40 of the binary's 90 MB.
RUN find api jobs media mixdown settings testkit voice worker -name '*.rs' -exec touch {} + \
 && cargo build --release --locked -p mixdown \
 && objcopy --only-keep-debug target/release/mixdown target/release/mixdown.debug \
 && strip --strip-debug -o /usr/local/bin/mixdown target/release/mixdown \
 && /usr/local/bin/mixdown --version \
 && rm -rf /usr/local/lib/pkgconfig

# The speaker encoder's weights, from the wheel that ships them. With pip the
# script needs only PyPI's simple index, which mirrors serve too.
FROM docker.io/library/debian:${DEBIAN_RELEASE}-slim AS voice
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates python3 python3-pip \
 && rm -rf /var/lib/apt/lists/*
COPY scripts/voice-model.sh /usr/local/bin/voice-model.sh
RUN voice-model.sh /voice

FROM docker.io/library/debian:${DEBIAN_RELEASE}-slim
# The FFmpeg built above, the codec libraries it links, and the CA roots for
# S3 and callbacks over TLS.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libmp3lame0 libopus0 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/* /usr/share/doc /usr/share/man \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/mixdown --create-home mixdown
COPY --from=build /usr/local/lib/ /usr/local/lib/
COPY --from=build /usr/local/bin/mixdown /usr/local/bin/mixdown
# A library missing here would only show when the first job runs.
RUN ldconfig && ! ldd /usr/local/bin/mixdown | grep 'not found'

COPY --from=voice /voice/pretrained.pt /usr/share/mixdown/voice/pretrained.pt
COPY deploy/healthcheck.sh /usr/local/bin/mixdown-healthcheck

# Listen beyond the container's loopback; everything else keeps the
# binary's defaults and is set per role by the environment.
ENV MIXDOWN_DATA_DIR=/var/lib/mixdown \
    MIXDOWN_LISTEN=0.0.0.0:8080 \
    MIXDOWN_OPS_LISTEN=0.0.0.0:9090 \
    MIXDOWN_WORKER_LISTEN=0.0.0.0:9091 \
    MIXDOWN_VOICE_MODEL=/usr/share/mixdown/voice/pretrained.pt
USER 10001:10001
WORKDIR /var/lib/mixdown
EXPOSE 8080 9090 9091
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["mixdown-healthcheck"]
ENTRYPOINT ["mixdown"]
CMD ["dev"]
