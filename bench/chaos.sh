#!/usr/bin/env bash
# The chaos run, long: a fleet of two APIs and three workers over Postgres, a
# Redis of its own and S3 takes a steady stream of jobs while workers are
# SIGKILLed at random, Redis restarts empty and workers are restarted in
# turn; then every accepted job is checked to have reached one final state,
# and re-executions are counted. Prints one report line.
#
#   bench/chaos.sh [SECONDS] [SEED]
#
# SECONDS (default 120) of chaos; SEED repeats an earlier run's choices.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export MIXDOWN_CHAOS_SECS=${1:-120}
if [ -n "${2:-}" ]; then
  export MIXDOWN_CHAOS_SEED=$2
fi
exec scripts/test.sh -p mixdown --test fleet chaos -- --nocapture
