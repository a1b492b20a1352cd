#!/usr/bin/env bash
# Backlog drain: JOBS due no-op jobs recorded in Postgres but never pushed to
# Redis (what an outage that emptied Redis leaves behind) are found by the
# reconciler, pushed in pages and drained by WORKERS worker processes. Prints
# the drain time and rate, whether every worker survived, and how many jobs
# did not succeed exactly once.
#
#   bench/backlog.sh [JOBS] [WORKERS] [CONCURRENCY]
#
# Defaults: 1,000,000 jobs, 2 workers, concurrency 50. Needs the services of
# scripts/test.sh (started here if they are not running).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh

jobs=${1:-1000000}
workers=${2:-2}
concurrency=${3:-50}
scripts/test.sh --services-only >/dev/null
mixdown_install_packages postgresql-client
cargo build --release -p mixdown >/dev/null
bin=target/release/mixdown

user=$(id -un)
admin_url=${MIXDOWN_TEST_POSTGRES_URL:-postgres://$user@%2Fvar%2Frun%2Fpostgresql/postgres}
db=mixdown_backlog_$$
psql -q "$admin_url" -c "CREATE DATABASE $db"
work=$(mktemp -d)
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  psql -q "$admin_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
  rm -rf "$work"
}
trap cleanup EXIT

export DATABASE_URL=${admin_url%/*}/$db
export REDIS_URL=${MIXDOWN_TEST_REDIS_URL:-redis://127.0.0.1:6379}
export MIXDOWN_REDIS_PREFIX=backlog-$$
export S3_ENDPOINT=${MIXDOWN_TEST_S3_ENDPOINT:-http://127.0.0.1:9001}
export S3_BUCKET=mixdown-bench
export AWS_ACCESS_KEY_ID=${MIXDOWN_TEST_S3_ACCESS_KEY:-testing}
export AWS_SECRET_ACCESS_KEY=${MIXDOWN_TEST_S3_SECRET_KEY:-testing-secret}
export RUST_LOG=${RUST_LOG:-warn}

"$bin" keys create --tenant backlog >/dev/null
tenant=$(psql -tA "$DATABASE_URL" -c "SELECT id FROM tenants WHERE name = 'backlog'")
now=$(($(date +%s%3N) - 60000))
echo "== recording $jobs due no-op jobs in Postgres (not pushed to Redis)"
psql -q "$DATABASE_URL" -c "INSERT INTO jobs (id, tenant_id, kind, queue, state, payload, priority,
  max_attempts, attempt_budget, run_at, created_at, updated_at)
  SELECT gen_random_uuid()::text, '$tenant', 'noop', 'noop', 'queued', '{}', 0, 3, 3, $now, $now, $now
  FROM generate_series(1, $jobs)"

echo "== $workers workers (concurrency $concurrency) find and drain them"
start=$(date +%s.%N)
for _ in $(seq "$workers"); do
  "$bin" worker --queues noop --concurrency "$concurrency" --listen 127.0.0.1:0 >>"$work/workers.log" 2>&1 &
  pids+=($!)
done
last=0
while :; do
  sleep 5
  done_count=$(psql -tA "$DATABASE_URL" -c "SELECT count(*) FROM jobs WHERE state = 'succeeded'")
  elapsed=$(echo "$(date +%s.%N) - $start" | bc -l)
  printf '  %6.0f s  %9d succeeded  (%6.0f/s over the last 5 s)\n' "$elapsed" "$done_count" \
    "$(echo "($done_count - $last) / 5" | bc -l)"
  last=$done_count
  [ "$done_count" -ge "$jobs" ] && break
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "a worker died; see $work/workers.log"; exit 1; }
  done
done
end=$(date +%s.%N)
alive=0
for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=$((alive + 1)); done
wrong=$(psql -tA "$DATABASE_URL" -c "SELECT count(*) FROM jobs WHERE state <> 'succeeded' OR attempts <> 1")
printf '\ndrained %d jobs in %.1f s: %.0f jobs/s; workers alive: %d of %d; not succeeded exactly once: %d\n' \
  "$jobs" "$(echo "$end - $start" | bc -l)" "$(echo "$jobs / ($end - $start)" | bc -l)" \
  "$alive" "$workers" "$wrong"
