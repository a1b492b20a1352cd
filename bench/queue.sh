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
# shellcheck source=scripts/setup.sh
source scripts/setup.sh

seconds=${1:-10}
concurrency=${2:-50}
scripts/test.sh --services-only >/dev/null
mixdown_install_packages wrk redis-tools postgresql-client
cargo build --release -p mixdown >/dev/null
bin=target/release/mixdown

user=$(id -un)
admin_url=${MIXDOWN_TEST_POSTGRES_URL:-postgres://$user@%2Fvar%2Frun%2Fpostgresql/postgres}
db=mixdown_bench_$$
psql -q "$admin_url" -c "CREATE DATABASE $db"
work=$(mktemp -d)
cleanup() {
  kill "${api_pid:-}" "${worker_pid:-}" 2>/dev/null || true
  wait 2>/dev/null || true
  psql -q "$admin_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
  rm -rf "$work"
}
trap cleanup EXIT

export DATABASE_URL=${admin_url%/*}/$db
export REDIS_URL=${MIXDOWN_TEST_REDIS_URL:-redis://127.0.0.1:6379}
export MIXDOWN_REDIS_PREFIX=bench-$$
export S3_ENDPOINT=${MIXDOWN_TEST_S3_ENDPOINT:-http://127.0.0.1:9001}
export S3_BUCKET=mixdown-bench
export AWS_ACCESS_KEY_ID=${MIXDOWN_TEST_S3_ACCESS_KEY:-testing}
export AWS_SECRET_ACCESS_KEY=${MIXDOWN_TEST_S3_SECRET_KEY:-testing-secret}
export RUST_LOG=warn

MIXDOWN_BENCH_KEY=$("$bin" keys create --tenant bench | awk '{print $NF}')
export MIXDOWN_BENCH_KEY
"$bin" api --listen 127.0.0.1:18080 >"$work/api.log" 2>&1 &
api_pid=$!
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
worker_pid=$!
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
