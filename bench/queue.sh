#!/usr/bin/env bash
# Queue benchmark: the enqueue rate through the HTTP API and the no-op
# processing rate of one worker, against Redis, Postgres and S3, printed beside
# the raw ceiling of the same Redis measured in the same run.
#
#   bench/queue.sh [SECONDS] [CONCURRENCY]
#
# SECONDS (default 10) is how long wrk enqueues; CONCURRENCY (default 50) is
# the worker's concurrency. Needs the services of scripts/test.sh (started
# here if they are not running) and wrk (installed if missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=bench/fleet.sh
source bench/fleet.sh

seconds=${1:-10}
concurrency=${2:-50}
bench_fleet bench wrk redis-tools

# The bench measures the queue, not the tenant rate limit.
MIXDOWN_BENCH_KEY=$("$bin" keys create --tenant bench --rate "1000000/s" | tail -1 | awk '{print $NF}')
export MIXDOWN_BENCH_KEY
"$bin" api --listen 127.0.0.1:18080 >"$work/api.log" 2>&1 &
bench_pids+=($!)
for _ in $(seq 100); do curl -fs http://127.0.0.1:18080/healthz >/dev/null && break; sleep 0.1; done

echo "== raw Redis ceiling (redis-benchmark, 50 clients, unpipelined)"
redis_out=$(redis-benchmark -u "$REDIS_URL" -t lpush,rpop -n 200000 -c 50 --csv 2>/dev/null)
echo "$redis_out"
lpush=$(echo "$redis_out" | awk -F'"' '$2 == "LPUSH" {print $4}')
rpop=$(echo "$redis_out" | awk -F'"' '$2 == "RPOP" {print $4}')

echo "== enqueue through the API (wrk, 2 threads, 64 connections, ${seconds}s)"
wrk_out=$(wrk -t2 -c64 -d"${seconds}s" -s bench/enqueue.lua http://127.0.0.1:18080/v1/jobs)
echo "$wrk_out" | grep -E 'Requests/sec|Latency|Non-2xx' || true
enqueue=$(echo "$wrk_out" | awk '/Requests\/sec/ {print $2}')
total=$(psql -tA "$DATABASE_URL" -c "SELECT count(*) FROM jobs")

echo "== one worker drains $total no-op jobs (concurrency $concurrency)"
start=$(date +%s.%N)
"$bin" worker --queues noop --concurrency "$concurrency" --listen 127.0.0.1:0 >"$work/worker.log" 2>&1 &
bench_pids+=($!)
while :; do
  done_count=$(psql -tA "$DATABASE_URL" -c "SELECT count(*) FROM jobs WHERE state = 'succeeded'")
  [ "$done_count" -ge "$total" ] && break
  sleep 0.05
done
end=$(date +%s.%N)
process=$(echo "$total / ($end - $start)" | bc -l)
failed=$(psql -tA "$DATABASE_URL" -c "SELECT count(*) FROM jobs WHERE state <> 'succeeded' OR attempts <> 1")

printf '\n%-34s %12s %14s\n' "measure" "per second" "ratio"
printf '%-34s %12.0f %14s\n' "Redis LPUSH (ceiling)" "$lpush" "1"
printf '%-34s %12.0f %14s\n' "Redis RPOP (ceiling)" "$rpop" "1"
printf '%-34s %12.0f %14.3f\n' "API enqueue (durable, HTTP)" "$enqueue" "$(echo "$enqueue / $lpush" | bc -l)"
printf '%-34s %12.0f %14.3f\n' "worker no-op processing" "$process" "$(echo "$process / $rpop" | bc -l)"
echo "jobs not succeeded exactly once: $failed"
