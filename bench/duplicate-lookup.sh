#!/usr/bin/env bash
# Duplicate lookup with a large index: fills a fresh Postgres database with TRACKS
# ready tracks of one tenant (synthetic fingerprints of 2 to 6 minutes, indexed as
# production indexes them), then times LOOKUPS `duplicates` and `index_fingerprint`
# calls, half noisy copies of indexed tracks (3 % of bits flipped, shifted by up to
# ±10 s, trimmed), half unrelated fingerprints.
#
#   bench/duplicate-lookup.sh [TRACKS] [LOOKUPS]
#
# TRACKS defaults to 100000, LOOKUPS to 200. The server is MIXDOWN_BENCH_POSTGRES_URL
# (default: the local socket); the bench's database is dropped at the end. Prints the
# fill time, the index's rows and size on disk, p50/p95/p99/max of both calls with
# the copies' recall and the unrelated fingerprints' false hits, and the naive
# alternative (each query aligned against every stored fingerprint) extrapolated
# from a timed sample, with its ratio to the index's p50.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh

mixdown_require_cargo
export MIXDOWN_TEST_POSTGRES_URL=${MIXDOWN_BENCH_POSTGRES_URL:-postgres://root@%2Fvar%2Frun%2Fpostgresql/postgres}
cargo run --release --locked -p mixdown-jobs --example duplicate_lookup -- "${1:-100000}" "${2:-200}"
