#!/usr/bin/env bash
# Run the whole Mixdown test suite against real services.
#
# Installs the missing Debian/Ubuntu packages for building and testing,
# makes sure PostgreSQL, Redis, a three-node Redis Cluster and an
# S3-compatible server (s3s-fs) answer on their local default addresses
# (starting them when they do not), exports the MIXDOWN_TEST_* variables and
# runs `cargo test --workspace --locked`, then the fleet's tests again over
# the cluster; with no arguments it then runs the outside OpenAPI fuzzer
# against the server (scripts/openapi-check.sh) and validates the deployment
# files against their schemas (scripts/deploy-check.sh). Extra arguments are
# passed to cargo test and skip the rest.
#
#   scripts/test.sh                   everything
#   scripts/test.sh -p mixdown-jobs   one crate
#   scripts/test.sh --services-only   only prepare and start the services
#
# MIXDOWN_TEST_POSTGRES_URL, MIXDOWN_TEST_REDIS_URL,
# MIXDOWN_TEST_REDIS_CLUSTER_URL, MIXDOWN_TEST_S3_ENDPOINT,
# MIXDOWN_TEST_S3_ACCESS_KEY and MIXDOWN_TEST_S3_SECRET_KEY already set in the
# environment are kept; a service whose URL points elsewhere is not managed.
# So are MIXDOWN_VOICE_MODEL (else scripts/voice-model.sh fetches the voice
# model into the cache) and MIXDOWN_TEST_VOICE_DATA (the speech corpus,
# default ../shared/testdata/voice beside the repository).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh
# shellcheck source=scripts/services.sh
source scripts/services.sh

services_only=false
if [ "${1:-}" = "--services-only" ]; then
  services_only=true
  shift
fi

mixdown_require_cargo
mixdown_install_packages "${MIXDOWN_BUILD_PACKAGES[@]}" "${MIXDOWN_TEST_PACKAGES[@]}"
mixdown_test_services

if [ "$services_only" = true ]; then
  exit 0
fi
# The voice tests need the encoder's weights: fetched once into the cache.
MIXDOWN_VOICE_MODEL=${MIXDOWN_VOICE_MODEL:-$(scripts/voice-model.sh)}
export MIXDOWN_VOICE_MODEL
if [ $# -gt 0 ]; then
  exec cargo test --workspace --locked "$@"
fi
cargo test --workspace --locked
# The fleet again over the Redis Cluster: jobs, recovery, fairness, live
# events and shared rate limits, each key where its slot says.
MIXDOWN_TEST_REDIS_URL="$MIXDOWN_TEST_REDIS_CLUSTER_URL" cargo test --workspace --locked \
  --test fleet --test api -- runtime:: recovery:: fairness:: drain:: edge::two_apis events::
scripts/openapi-check.sh
scripts/deploy-check.sh
