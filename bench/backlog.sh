#!/usr/bin/env bash
# Backlog drain: JOBS due no-op jobs recorded in Postgres but never pushed to
# Redis (what an outage that emptied Redis leaves behind) are found by the
# reconciler, pushed as one streamed read and drained by WORKERS worker
# processes. Prints the drain time and rate, whether every worker survived,
# and how many jobs did not succeed exactly once.
#
#   bench/backlog.sh [JOBS] [WORKERS] [CONCURRENCY]
#
# Defaults: 1,000,000 jobs, 2 workers, concurrency 50. Needs the services of
# scripts/test.sh (started here if they are not running).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=bench/fleet.sh
source bench/fleet.sh

jobs=${1:-1000000}
workers=${2:-2}
concurrency=${3:-50}
bench_fleet backlog

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
  bench_pids+=($!)
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
  for pid in "${bench_pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "a worker died; see $work/workers.log"; exit 1; }
  done
done
end=$(date +%s.%N)
alive=0
for pid in "${bench_pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=$((alive + 1)); done
wrong=$(psql -tA "$DATABASE_URL" -c "SELECT count(*) FROM jobs WHERE state <> 'succeeded' OR attempts <> 1")
printf '\ndrained %d jobs in %.1f s: %.0f jobs/s; workers alive: %d of %d; not succeeded exactly once: %d\n' \
  "$jobs" "$(echo "$end - $start" | bc -l)" "$(echo "$jobs / ($end - $start)" | bc -l)" \
  "$alive" "$workers" "$wrong"
