#!/usr/bin/env bash
# Queue benchmark: single-job enqueue (rate and p99 latency) and batch
# enqueue through the HTTP API, then the no-op processing rate of one worker,
# against Redis, Postgres and S3, each printed beside the raw ceiling of the
# same Redis and beside BullMQ (bench/bullmq.cjs: the same three measures,
# same callers and concurrency, same Redis), all measured in the same run.
#
#   bench/queue.sh [SECONDS] [CONCURRENCY]
#
# SECONDS (default 10) is how long each enqueue run lasts; CONCURRENCY
# (default 50) is the worker's concurrency. Needs the services of
# scripts/test.sh (started here if they are not running), wrk, and Node.js
# with BullMQ (installed if missing; BullMQ under target/bench-node).
# REDIS_URL may name a cluster (redis+cluster://…): the raw ceiling is then
# measured on its first node.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=bench/fleet.sh
source bench/fleet.sh

seconds=${1:-10}
concurrency=${2:-50}
export BATCH_SIZE=1000
bench_fleet bench wrk redis-tools
raw_url=$REDIS_URL
case $REDIS_URL in
redis+cluster://*) raw_url=redis://$(echo "${REDIS_URL#redis+cluster://}" | cut -d, -f1) ;;
esac
sql() { psql -tA "$DATABASE_URL" -c "$1"; }
command -v node >/dev/null && command -v npm >/dev/null || mixdown_install_packages nodejs npm
peer=target/bench-node
[ -d "$peer/node_modules/bullmq" ] ||
  npm install --prefix "$peer" --no-audit --no-fund --silent bullmq@6.7.6 ioredis@5.11.1

# The bench measures the queue, not the tenant rate limit.
MIXDOWN_BENCH_KEY=$("$bin" keys create --tenant bench --rate "1000000/s" | tail -1 | awk '{print $NF}')
export MIXDOWN_BENCH_KEY
"$bin" api --listen 127.0.0.1:18080 >"$work/api.log" 2>&1 &
bench_pids+=($!)
for _ in $(seq 100); do curl -fs http://127.0.0.1:18080/healthz >/dev/null && break; sleep 0.1; done
# A deployed fleet always has a reconciler at work. Without one, the measured
# worker's own first pass finds no redrive mark and pushes every queued job
# again (the last grace period's twice) while it drains them: 12-17 % of its
# rate in drains of 200,000 jobs. This member serves only callbacks, so it
# runs no no-op job; it leads the reconciler from before the first enqueue.
"$bin" worker --queues callback --concurrency 1 --listen 127.0.0.1:0 >"$work/fleet.log" 2>&1 &
fleet=$!
bench_pids+=("$fleet")
mark="{$MIXDOWN_REDIS_PREFIX:noop}:redrive_from"
for _ in $(seq 100); do
  [ "$(redis-cli -c -u "$raw_url" exists "$mark")" = 1 ] && break
  sleep 0.1
done

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== raw Redis ceiling (redis-benchmark, 50 clients unpipelined; LPUSH pipelined by $BATCH_SIZE)"
redis_out=$(redis-benchmark -u "$raw_url" -t lpush,rpop -n 200000 -c 50 --csv 2>/dev/null)
lpush=$(echo "$redis_out" | awk -F'"' '$2 == "LPUSH" {print $4}')
rpop=$(echo "$redis_out" | awk -F'"' '$2 == "RPOP" {print $4}')
piped=$(redis-benchmark -u "$raw_url" -t lpush -n 2000000 -c 4 -P "$BATCH_SIZE" --csv 2>/dev/null |
  awk -F'"' '$2 == "LPUSH" {print $4}')
echo "LPUSH $lpush/s, RPOP $rpop/s, LPUSH pipelined $piped/s"

echo "== single jobs through the API (wrk, 2 threads, 64 connections, ${seconds}s)"
wrk_out=$(wrk -t2 -c64 -d"${seconds}s" --latency -s bench/enqueue.lua http://127.0.0.1:18080/v1/jobs)
echo "$wrk_out" | grep -E 'Requests/sec|Latency |99%|Non-2xx' || true
enqueue=$(echo "$wrk_out" | awk '/Requests\/sec/ {print $2}')
p99=$(echo "$wrk_out" | awk '$1 == "99%" {print $2}')

echo "== batches of $BATCH_SIZE through the API (wrk, 2 threads, 4 connections, ${seconds}s)"
wrk_out=$(wrk -t2 -c4 -d"${seconds}s" --timeout 30s -s bench/batch.lua http://127.0.0.1:18080/v1/jobs/batch)
echo "$wrk_out" | grep -E 'Requests/sec|Latency |Non-2xx' || true
batches=$(echo "$wrk_out" | awk '/requests in/ {print $1}')
elapsed=$(echo "$wrk_out" | awk '/requests in/ {sub(/s,/, "", $4); print $4}')
batch=$(echo "$batches * $BATCH_SIZE / $elapsed" | bc -l)
sleep 1 # batches still in flight when wrk stopped land now
total=$(sql "SELECT count(*) FROM jobs")

echo "== one worker drains $total no-op jobs (concurrency $concurrency)"
"$bin" worker --queues noop --concurrency "$concurrency" --listen 127.0.0.1:0 >"$work/worker.log" 2>&1 &
worker=$!
bench_pids+=("$worker")
# Polled once a second with an index-only count: the rate itself is read from
# the rows afterwards (first claim to last recorded end), so polling more
# often would only compete with the worker for the database.
while [ "$(sql "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')")" -gt 0 ]; do
  sleep 1
done
span_ms=$(sql "SELECT max(finished_at) - min(started_at) FROM jobs")
process=$(echo "$total * 1000 / $span_ms" | bc -l)
failed=$(sql "SELECT count(*) FROM jobs WHERE state <> 'succeeded' OR attempts <> 1")
# BullMQ's phases come next: nothing of Mixdown's may compete with them.
kill "$worker" "$fleet" 2>/dev/null || true

echo "== BullMQ on the same Redis: the same three measures"
bullmq=$(NODE_PATH=$peer/node_modules node bench/bullmq.cjs "$seconds" "$concurrency")
peer_single=$(echo "$bullmq" | awk '$1 == "single" {print $2}')
peer_p99=$(echo "$bullmq" | awk '$1 == "single" {print $3}')
peer_batch=$(echo "$bullmq" | awk '$1 == "batch" {print $2}')
peer_worker=$(echo "$bullmq" | awk '$1 == "worker" {print $2}')
peer_jobs=$(echo "$bullmq" | awk '$1 == "worker" {print $3}')

ratio() { echo "$1 / $2" | bc -l; }
printf '\n%-40s %12s %10s %10s\n' "measure" "per second" "/ Redis" "/ BullMQ"
printf '%-40s %12.0f\n' "Redis LPUSH (ceiling, unpipelined)" "$lpush"
printf '%-40s %12.0f\n' "Redis RPOP (ceiling, unpipelined)" "$rpop"
printf '%-40s %12.0f\n' "Redis LPUSH (ceiling, pipelined)" "$piped"
printf '%-40s %12.0f %10.3f %10.2f  p99 %s (BullMQ %s ms)\n' "single enqueue (durable, HTTP)" "$enqueue" \
  "$(ratio "$enqueue" "$lpush")" "$(ratio "$enqueue" "$peer_single")" "$p99" "$peer_p99"
printf '%-40s %12.0f %10.3f %10.2f\n' "batch enqueue (durable, HTTP)" "$batch" \
  "$(ratio "$batch" "$lpush")" "$(ratio "$batch" "$peer_batch")"
printf '%-40s %12.0f %10.3f %10.2f\n' "worker no-op processing" "$process" \
  "$(ratio "$process" "$rpop")" "$(ratio "$process" "$peer_worker")"
printf '%-40s %12.0f\n' "BullMQ add (64 callers)" "$peer_single"
printf '%-40s %12.0f\n' "BullMQ addBulk of $BATCH_SIZE (4 callers)" "$peer_batch"
printf '%-40s %12.0f  over %s jobs\n' "BullMQ worker (concurrency $concurrency)" "$peer_worker" "$peer_jobs"
echo "jobs not succeeded exactly once: $failed of $total"
# The machine may be shared: figures of runs under different loads do not compare.
echo "load average (1, 5, 15 min) before: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)"
