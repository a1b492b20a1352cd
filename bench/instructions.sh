#!/usr/bin/env bash
# Instructions the API executes per single-job enqueue, counted by valgrind's
# callgrind: unlike seconds, the count does not move with a shared VM's speed,
# so two builds compare in one run each. The API runs under callgrind against
# the services of scripts/test.sh; wrk posts no-op jobs for 5 s to warm it up,
# the counters are zeroed, wrk posts for SECONDS more, and the total is divided
# by the requests answered. Groups of jobs form differently under valgrind
# than at full speed, so the count is for comparing builds, not for a rate.
#
#   bench/instructions.sh [SECONDS]   (default 20)
#
# Prints the requests and the instructions per request; the profile stays in
# OUT (default target/callgrind.enqueue) for callgrind_annotate.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=bench/fleet.sh
source bench/fleet.sh

seconds=${1:-20}
out=${OUT:-target/callgrind.enqueue}
bench_fleet instructions wrk valgrind
MIXDOWN_BENCH_KEY=$("$bin" keys create --tenant bench --rate "1000000/s" | tail -1 | awk '{print $NF}')
export MIXDOWN_BENCH_KEY
rm -f "$out"*
valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" api --listen 127.0.0.1:18080 \
  >"$work/api.log" 2>&1 &
api=$!
bench_pids+=("$api")
for _ in $(seq 600); do curl -fs http://127.0.0.1:18080/healthz >/dev/null && break; sleep 0.2; done
post() { wrk -t2 -c16 -d"$1s" -s bench/enqueue.lua http://127.0.0.1:18080/v1/jobs; }
post 5 >/dev/null
callgrind_control -z "$api" >/dev/null
requests=$(post "$seconds" | awk '/requests in/ {print $1}')
callgrind_control -d "$api" >/dev/null
sleep 1
# The dump after zeroing is the newest part file.
profile=$(ls -t "$out"* | head -1)
total=$(callgrind_annotate "$profile" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
echo "requests $requests; instructions per request $((total / requests)) (profile: $profile)"
