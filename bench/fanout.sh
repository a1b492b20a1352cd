#!/usr/bin/env bash
# Social fan-out benchmark, in one run on a fresh Postgres database:
#
#   1. imports FOLLOWERS followers of one actor (`mixdown graph import`);
#   2. one API and WORKERS workers of the `fanout` queue spread one activity
#      of that actor into every follower's feed: timed from just before the
#      POST until GET /v1/jobs/{id} says succeeded (polled every 20 ms),
#      checked to leave exactly FOLLOWERS feed rows, with where the time went
#      (planning in the parent, queueing, chunk statements, the parent's wake);
#   3. a psql \copy of the same rows into a fresh table partitioned like
#      feed_items, and the fan-out time over the COPY time (target <= 2.0);
#   4. feed reads: feed_items filled to FEED_ROWS rows (users of 100 items,
#      with their activities), ANALYZE, then 2,000 first-page and 500
#      second-page GET /v1/feeds/{user}?limit=50 from one keep-alive client
#      (p50/p99/max) and one EXPLAIN ANALYZE of the feed query;
#   5. many small fan-outs: ACTORS actors of 100 followers each imported,
#      one activity each POSTed by a few client threads, until every fan-out
#      succeeded (activities/s, feed rows/s).
#
#   bench/fanout.sh [FOLLOWERS] [WORKERS]
#
# Defaults: 1,000,000 followers, 2 workers (concurrency MIXDOWN_CONCURRENCY,
# default 8; chunks of MIXDOWN_FANOUT_CHUNK_SIZE, default 10000, written at most
# MIXDOWN_FANOUT_PARALLEL_WRITES at once per worker, default 2). The
# environment may shrink the other parts: MIXDOWN_BENCH_FEED_ROWS (default
# 10000000), MIXDOWN_BENCH_ACTORS (default 10000),
# MIXDOWN_BENCH_ACTOR_FOLLOWERS (default 100), MIXDOWN_BENCH_CLIENTS (POSTing
# threads of part 5, default 8). Needs the services of scripts/test.sh
# (started here if they are not running) and python3. Not part of any test
# suite; everything it starts and its database go away on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=bench/fleet.sh
source bench/fleet.sh

followers=${1:-1000000}
workers=${2:-2}
feed_rows=${MIXDOWN_BENCH_FEED_ROWS:-10000000}
actors=${MIXDOWN_BENCH_ACTORS:-10000}
per_actor=${MIXDOWN_BENCH_ACTOR_FOLLOWERS:-100}
clients=${MIXDOWN_BENCH_CLIENTS:-8}
bench_fleet fanout redis-tools bc

# Also forget the run's Redis keys, once nothing can write them again.
fanout_cleanup() {
  kill "${bench_pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  if command -v redis-cli >/dev/null; then
    redis-cli -u "$REDIS_URL" --scan --pattern "$MIXDOWN_REDIS_PREFIX*" 2>/dev/null |
      xargs -r redis-cli -u "$REDIS_URL" DEL >/dev/null 2>&1 || true
  fi
  bench_cleanup
}
trap fanout_cleanup EXIT

sql() { psql -qtA -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }
now() { date +%s.%N; }
calc() { echo "$1" | bc -l; }
# The milliseconds of psql's \timing line in the output of "$@".
timed_ms() { "$@" | awk '/^Time: / {print $2}' | tail -1; }
# Fails unless the API and every worker still run.
alive() {
  for pid in "$api_pid" "${worker_pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "a process died; see $work/*.log" >&2; exit 1; }
  done
}

# CPU seconds spent by the workers, the API and this database's Postgres
# backends between `cpu_mark NAME` and `cpu_stop NAME`, printed by
# `cpu_report NAME WALL` (a backend that ended meanwhile is not counted).
tck=$(getconf CLK_TCK)
cpu_ticks() {
  local group=$1 pid
  shift
  for pid; do
    [ -r "/proc/$pid/stat" ] && echo "$group $pid $(awk '{print $14 + $15}' "/proc/$pid/stat")"
  done
  return 0
}
cpu_snapshot() {
  cpu_ticks api "$api_pid"
  cpu_ticks workers "${worker_pids[@]}"
  # shellcheck disable=SC2046 # one pid a word
  cpu_ticks postgres $(sql "SELECT pid FROM pg_stat_activity WHERE datname = current_database()
    AND pid <> pg_backend_pid() AND query NOT LIKE '%bench_samples%'")
}
# Samples what this database's other sessions are doing every 10 ms, from
# `sampler_start NAME` until `sampler_stop NAME`; `sampler_report NAME`
# prints the statements (and waits) seen most often: where Postgres spends
# the fleet's time.
sampler_start() {
  psql -qtA -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "DO \$\$ DECLARE i INT := 0; BEGIN
    LOOP
      i := i + 1;
      PERFORM pg_stat_clear_snapshot();
      INSERT INTO bench_samples SELECT '$1', i,
        left(regexp_replace(query, '\s+', ' ', 'g'), 64), coalesce(wait_event_type || ':' || wait_event, 'CPU')
        FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
        AND state = 'active' AND query NOT LIKE '%bench_samples%';
      EXIT WHEN EXISTS (SELECT 1 FROM bench_stop WHERE phase = '$1');
      PERFORM pg_sleep(0.01);
    END LOOP;
    INSERT INTO bench_samples VALUES ('$1', i, NULL, NULL);
  END \$\$" >/dev/null &
  sampler_pid=$!
  bench_pids+=($!)
}
sampler_stop() {
  sql "INSERT INTO bench_stop VALUES ('$1')"
  wait "$sampler_pid"
}
sampler_report() {
  echo "Postgres sessions busy, by statement (mean sessions over 10 ms samples) [waits seen]:"
  psql -qtA -F ' ' -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "
    WITH s AS (SELECT * FROM bench_samples WHERE phase = '$1'),
    n AS (SELECT max(tick) AS ticks FROM s)
    SELECT to_char(count(*)::numeric / (SELECT ticks FROM n), '90.00'), what,
      '[' || string_agg(DISTINCT wait, ',') || ']'
    FROM s WHERE what IS NOT NULL GROUP BY what ORDER BY count(*) DESC LIMIT 8" | sed 's/^/  /'
}
cpu_mark() { cpu_snapshot >"$work/cpu.$1"; }
cpu_stop() { cpu_snapshot >"$work/cpu.$1.end"; }
cpu_report() {
  awk -v tck="$tck" -v wall="$2" 'NR == FNR {before[$2] = $3; next}
    {s[$1] += ($3 - before[$2]) / tck}
    END {printf "CPU seconds over %.1f s wall: workers %.1f, API %.1f, Postgres backends %.1f\n",
      wall, s["workers"], s["api"], s["postgres"]}' "$work/cpu.$1" "$work/cpu.$1.end"
}

key=$("$bin" keys create --tenant fanout | awk '{print $NF}')
sql "CREATE TABLE bench_samples (phase TEXT, tick INT, what TEXT, wait TEXT); CREATE TABLE bench_stop (phase TEXT)"
tenant=$(sql "SELECT id FROM tenants WHERE name = 'fanout'")
port=$((18100 + $$ % 800))
api=127.0.0.1:$port
echo "settings: $("$bin" config | grep -E '^(concurrency|fanout_chunk_size|feed_max_items|feed_trim_every) ' |
  awk '{gsub(/"/, "", $3); printf "%s=%s ", $1, $3}')workers=$workers"

# ---------------------------------------------------------------- 1. import
echo "== 1. importing $followers followers of 'artist'"
awk -v n="$followers" 'BEGIN { for (i = 1; i <= n; i++) printf "follow,u%07d,artist\n", i }' >"$work/big.csv"
start=$(now)
import_out=$(RUST_LOG=error "$bin" graph import "$work/big.csv" --tenant fanout)
end=$(now)
echo "$import_out"
import_s=$(calc "$end - $start")
import_reported=$(echo "$import_out" | awk '{for (i = 1; i < NF; i++) if ($(i + 1) == "s") print $i}')
import_rate=$(calc "$followers / $import_s")
printf 'import: %.2f s wall (%s s reported), %.0f edges/s\n' "$import_s" "$import_reported" "$import_rate"
[ "$(sql "SELECT count(*) FROM follows WHERE followee_id = 'artist'")" -eq "$followers" ] ||
  { echo "the import left the wrong number of follows" >&2; exit 1; }
sql "ANALYZE follows"

# ---------------------------------------------------------------- 2. fan-out
echo "== 2. one activity to $followers followers: 1 API, $workers fanout workers"
"$bin" api --listen "$api" >"$work/api.log" 2>&1 &
api_pid=$!
bench_pids+=($!)
worker_pids=()
for _ in $(seq "$workers"); do
  "$bin" worker --queues fanout --listen 127.0.0.1:0 >>"$work/workers.log" 2>&1 &
  worker_pids+=($!)
  bench_pids+=($!)
done
for _ in $(seq 100); do curl -fs "http://$api/healthz" >/dev/null && break; sleep 0.1; done
curl -fs "http://$api/healthz" >/dev/null || { echo "the API did not start; see $work/api.log" >&2; exit 1; }
sleep 1 # the workers' first poll
alive
sql "CHECKPOINT"
sampler_start fanout
cpu_mark fanout

# Prints: t0 (epoch ms, just before the POST), seconds to succeeded, the job's
# id, created_at/started_at/finished_at, the result and the POST's ms.
fanout_out=$(python3 - "$api" "$key" <<'PY'
import http.client, json, sys, time
api, key = sys.argv[1], sys.argv[2]
h = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}
conn = http.client.HTTPConnection(api, timeout=60)
body = json.dumps({"actor_id": "artist", "verb": "post", "object_type": "track", "object_id": "big-1"})
t0_wall = time.time()
t0 = time.perf_counter()
conn.request("POST", "/v1/activities", body, h)
r = conn.getresponse()
accepted = json.loads(r.read())
post_ms = (time.perf_counter() - t0) * 1000
if r.status != 202:
    sys.exit(f"POST /v1/activities answered {r.status}: {accepted}")
while True:
    conn.request("GET", accepted["status_url"], headers=h)
    r = conn.getresponse()
    job = json.loads(r.read())
    if job["state"] in ("succeeded", "failed"):
        break
    if time.perf_counter() - t0 > 3600:
        sys.exit("the fan-out took over an hour")
    time.sleep(0.02)
elapsed = time.perf_counter() - t0
if job["state"] != "succeeded":
    sys.exit(f"the fan-out failed: {job.get('error')}")
print(int(t0_wall * 1000), f"{elapsed:.4f}", job["job_id"], accepted["activity_id"],
      job["created_at"], job.get("started_at"), job.get("finished_at"),
      json.dumps(job["result"], separators=(",", ":")), f"{post_ms:.1f}")
PY
)
cpu_stop fanout
sampler_stop fanout
read -r t0_ms fanout_s job_id activity_id job_created job_started job_finished job_result post_ms <<<"$fanout_out"
rows=$(sql "SELECT count(*) FROM feed_items WHERE tenant_id = '$tenant' AND activity_id = '$activity_id'")
fanout_rate=$(calc "$rows / $fanout_s")
echo "POST answered in $post_ms ms; job $job_id succeeded: result $job_result"
echo "job's own times: created $job_created, started $job_started, finished $job_finished"
printf 'fan-out: %.3f s from POST to succeeded seen, %d feed rows, %.0f rows/s\n' "$fanout_s" "$rows" "$fanout_rate"
[ "$rows" -eq "$followers" ] || { echo "expected $followers feed rows, found $rows" >&2; exit 1; }
cpu_report fanout "$fanout_s"
sampler_report fanout
# Where the time went, from the jobs' rows (ms since just before the POST).
IFS='|' read -r chunks plan_ms first_claim_ms last_claim_ms chunks_done_ms parent_done_ms \
  wait_avg wait_max stmt_avg stmt_p50 stmt_max job_own_ms <<<"$(sql "
  SELECT count(*), min(c.created_at) - $t0_ms, min(c.started_at) - $t0_ms, max(c.started_at) - $t0_ms,
         max(c.finished_at) - $t0_ms, max(p.finished_at) - $t0_ms,
         round(avg(c.started_at - c.created_at)), max(c.started_at - c.created_at),
         round(avg(c.finished_at - c.started_at)),
         percentile_disc(0.5) WITHIN GROUP (ORDER BY c.finished_at - c.started_at),
         max(c.finished_at - c.started_at), max(p.finished_at - p.started_at)
  FROM jobs c JOIN jobs p ON p.id = c.parent_id WHERE p.id = '$job_id'")"
echo "where the time went (ms after the POST began):"
echo "  parent planned and recorded $chunks chunks by   $plan_ms"
echo "  first chunk claimed                          $first_claim_ms"
echo "  last chunk claimed                           $last_claim_ms"
echo "  last chunk finished                          $chunks_done_ms"
echo "  parent woke, summed and finished             $parent_done_ms"
echo "  seen by the 20 ms poll                       $(calc "$fanout_s * 1000" | xargs printf '%.0f')"
echo "  per chunk: queued avg $wait_avg / max $wait_max ms; run avg $stmt_avg / p50 $stmt_p50 / max $stmt_max ms"
echo "  the job's own started_at..finished_at: $job_own_ms ms (its last attempt only: the sum)"
# One chunk's INSERT alone, for a fresh activity id, rolled back.
mid=$(sql "SELECT payload FROM jobs WHERE parent_id = '$job_id' ORDER BY id OFFSET $((chunks / 2)) LIMIT 1")
after=$(echo "$mid" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("after") or "")')
upto=$(echo "$mid" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("upto") or "")')
range=""
[ -n "$after" ] && range="$range AND f.follower_id > '$after'"
[ -n "$upto" ] && range="$range AND f.follower_id <= '$upto'"
chunk_insert_ms=$(psql -qtA -v ON_ERROR_STOP=1 "$DATABASE_URL" <<SQL | awk '/Execution Time/ {print $3}'
BEGIN;
INSERT INTO activities (id, tenant_id, actor_id, verb, object_type, object_id, occurred_at, data, job_id, created_at)
  VALUES ('00000000-0000-7000-8000-000000000001', '$tenant', 'artist', 'post', 'track', 'probe', 1, '{}', 'probe', 1);
EXPLAIN (ANALYZE, TIMING OFF)
INSERT INTO feed_items (tenant_id, user_id, occurred_at, activity_id)
  SELECT f.tenant_id, f.follower_id, 1, '00000000-0000-7000-8000-000000000001' FROM follows f
  WHERE f.tenant_id = '$tenant' AND f.followee_id = 'artist' $range
  AND NOT (f.follower_id IN (SELECT blocker_id FROM blocks WHERE tenant_id = '$tenant' AND blocked_id = 'artist'
    UNION ALL SELECT blocked_id FROM blocks WHERE tenant_id = '$tenant' AND blocker_id = 'artist'
    UNION ALL SELECT muter_id FROM mutes WHERE tenant_id = '$tenant' AND muted_id = 'artist'))
  AND EXISTS (SELECT 1 FROM activities a WHERE a.id = '00000000-0000-7000-8000-000000000001' AND a.deleted_at IS NULL)
  ON CONFLICT DO NOTHING RETURNING user_id;
ROLLBACK;
SQL
)
echo "  a retried chunk's checked INSERT … SELECT alone (EXPLAIN ANALYZE, rolled back; a first attempt COPYs): $chunk_insert_ms ms"
# The parent's keyset paging as it runs it (one OFFSET query per chunk),
# without the round trips: in one PL/pgSQL block.
chunk_size=$("$bin" config | awk '$1 == "fanout_chunk_size" {gsub(/"/, "", $3); print $3}')
paging_ms=$(psql -qtA -v ON_ERROR_STOP=1 "$DATABASE_URL" 2>&1 <<SQL | awk '/paging took/ {print $NF}'
DO \$\$ DECLARE after TEXT; upto TEXT; t0 TIMESTAMPTZ := clock_timestamp(); BEGIN
  LOOP
    upto := NULL;
    SELECT f.follower_id INTO upto FROM follows f WHERE f.tenant_id = '$tenant' AND f.followee_id = 'artist'
      AND (after IS NULL OR f.follower_id > after) ORDER BY f.follower_id LIMIT 1 OFFSET $chunk_size - 1;
    EXIT WHEN upto IS NULL;
    after := upto;
  END LOOP;
  PERFORM count(*) FROM follows f WHERE f.tenant_id = '$tenant' AND f.followee_id = 'artist' AND f.follower_id > after;
  RAISE NOTICE 'paging took %', round(extract(epoch FROM clock_timestamp() - t0) * 1000);
END \$\$;
SQL
)
echo "  the parent's paging queries alone, server side: $paging_ms ms"

# ---------------------------------------------------------------- 3. COPY
echo "== 3. psql \\copy of the same $rows rows into a fresh table partitioned like feed_items"
psql -q -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "\\copy (SELECT tenant_id, user_id, occurred_at, activity_id FROM feed_items WHERE tenant_id = '$tenant' AND activity_id = '$activity_id') TO '$work/rows.tsv'"
{
  echo "CREATE TABLE copy_target (tenant_id TEXT NOT NULL, user_id TEXT NOT NULL, occurred_at BIGINT NOT NULL,
    activity_id TEXT NOT NULL, PRIMARY KEY (tenant_id, user_id, occurred_at, activity_id)) PARTITION BY HASH (user_id);"
  for i in $(seq 0 15); do
    printf 'CREATE TABLE copy_target_%02d PARTITION OF copy_target FOR VALUES WITH (MODULUS 16, REMAINDER %d);\n' "$i" "$i"
  done
} | psql -q -v ON_ERROR_STOP=1 "$DATABASE_URL"
sql "CHECKPOINT"
copy_ms=$(timed_ms psql -q -v ON_ERROR_STOP=1 "$DATABASE_URL" -c '\timing on' -c "\\copy copy_target FROM '$work/rows.tsv'")
copy_s=$(calc "$copy_ms / 1000")
copied=$(sql "SELECT count(*) FROM copy_target")
[ "$copied" -eq "$rows" ] || { echo "COPY left $copied rows, not $rows" >&2; exit 1; }
copy_rate=$(calc "$copied / $copy_s")
ratio=$(calc "$fanout_s / $copy_s")
printf 'COPY: %.3f s, %.0f rows/s; fan-out / COPY = %.2f (target <= 2.0)\n' "$copy_s" "$copy_rate" "$ratio"
sql "DROP TABLE copy_target"

# ---------------------------------------------------------------- 4. reads
existing=$(sql "SELECT count(*) FROM feed_items")
fill_users=$(((feed_rows - existing) / 100))
[ "$fill_users" -ge 1 ] || fill_users=1
echo "== 4. feed reads: $fill_users users x 100 items added to the $existing rows"
start=$(now)
psql -q -v ON_ERROR_STOP=1 "$DATABASE_URL" <<SQL
CREATE TABLE fill_acts (n INT PRIMARY KEY, id TEXT NOT NULL, occurred_at BIGINT NOT NULL);
INSERT INTO fill_acts SELECT i, gen_random_uuid()::text, 1700000000000 + i * 1000 FROM generate_series(0, 9999) i;
INSERT INTO activities (id, tenant_id, actor_id, verb, object_type, object_id, occurred_at, data, job_id, created_at)
  SELECT id, '$tenant', 'p' || lpad((n % 500)::text, 4, '0'), 'post', 'track', 'fill-' || n, occurred_at,
         '{"title":"fill"}', gen_random_uuid()::text, occurred_at
  FROM fill_acts;
-- User u gets 100 distinct activities of the 10,000 (101 is prime to 10,000).
INSERT INTO feed_items (tenant_id, user_id, occurred_at, activity_id)
  SELECT '$tenant', 'r' || lpad(u::text, 7, '0'), a.occurred_at, a.id
  FROM generate_series(1, $fill_users) u CROSS JOIN generate_series(0, 99) k
  JOIN fill_acts a ON a.n = (u * 37 + k * 101) % 10000;
DROP TABLE fill_acts;
ANALYZE feed_items;
ANALYZE activities;
SQL
end=$(now)
total_rows=$(sql "SELECT count(*) FROM feed_items")
fill_s=$(calc "$end - $start")
printf 'filled to %d rows in %.1f s\n' "$total_rows" "$fill_s"

reads_out=$(python3 - "$api" "$key" "$fill_users" <<'PY'
import http.client, json, random, sys, time
api, key, users = sys.argv[1], sys.argv[2], int(sys.argv[3])
h = {"Authorization": "Bearer " + key}
conn = http.client.HTTPConnection(api, timeout=60)
rng = random.Random(1)

def get(path):
    t = time.perf_counter()
    conn.request("GET", path, headers=h)
    r = conn.getresponse()
    body = r.read()
    ms = (time.perf_counter() - t) * 1000
    if r.status != 200:
        sys.exit(f"GET {path} answered {r.status}: {body[:200]!r}")
    return ms, json.loads(body)

def user():
    return "r%07d" % rng.randint(1, users)

for _ in range(20):  # warm up the connection and the API's pool
    get(f"/v1/feeds/{user()}?limit=50")
first, second, cursors = [], [], []
for i in range(2000):
    ms, page = get(f"/v1/feeds/{(u := user())}?limit=50")
    first.append(ms)
    if len(page["items"]) != 50:
        sys.exit(f"user {u}'s first page held {len(page['items'])} items")
    if len(cursors) < 500:
        cursors.append((u, page["next_cursor"]))
for u, cursor in cursors:
    ms, page = get(f"/v1/feeds/{u}?limit=50&cursor={cursor}")
    second.append(ms)
    if len(page["items"]) != 50:
        sys.exit(f"user {u}'s second page held {len(page['items'])} items")

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]

for xs in (first, second):
    print(f"{pct(xs, 0.5):.2f} {pct(xs, 0.99):.2f} {max(xs):.2f}", end=" ")
print()
PY
)
read -r p1_50 p1_99 p1_max p2_50 p2_99 p2_max <<<"$reads_out"
printf 'first pages  (2000): p50 %s ms, p99 %s ms, max %s ms\n' "$p1_50" "$p1_99" "$p1_max"
printf 'second pages  (500): p50 %s ms, p99 %s ms, max %s ms\n' "$p2_50" "$p2_99" "$p2_max"
sample_user=r$(printf '%07d' $((fill_users / 2 + 1)))
feed_sql="SELECT f.occurred_at AS at, f.activity_id AS aid, a.actor_id, a.verb,
  a.object_type, a.object_id, a.data, a.deleted_at FROM feed_items f
  LEFT JOIN activities a ON a.id = f.activity_id
  WHERE f.tenant_id = '$tenant' AND f.user_id = '$sample_user'
  ORDER BY f.occurred_at DESC, f.activity_id DESC LIMIT 51"
# Twice in one session, the second shown: the API's pooled connections have
# the catalog cached.
explain=$(psql -qtA -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "EXPLAIN ANALYZE $feed_sql" \
  -c "EXPLAIN (ANALYZE, BUFFERS) $feed_sql" | awk '/^Limit/ {n++} n == 2')
echo "EXPLAIN ANALYZE of the feed query for $sample_user (second run in its session):"
echo "$explain" | sed 's/^/  /'
explain_plan=$(echo "$explain" | awk '/Planning Time/ {print $3}')
explain_exec=$(echo "$explain" | awk '/Execution Time/ {print $3}')

# ---------------------------------------------------------------- 5. many
small_edges=$((actors * per_actor))
echo "== 5. $actors actors of $per_actor followers each: one activity each"
awk -v n="$actors" -v m="$per_actor" 'BEGIN {
  for (i = 1; i <= n; i++) for (j = 0; j < m; j++) printf "follow,s%07d,a%05d\n", ((i - 1) * m + j) % 100000 + 1, i
}' >"$work/small.csv"
start=$(now)
RUST_LOG=error "$bin" graph import "$work/small.csv" --tenant fanout
end=$(now)
small_import_s=$(calc "$end - $start")
small_import_rate=$(calc "$small_edges / $small_import_s")
printf 'import: %.2f s wall, %.0f edges/s\n' "$small_import_s" "$small_import_rate"
sql "ANALYZE follows"
alive
sampler_start small
cpu_mark small
posts_out=$(python3 - "$api" "$key" "$actors" "$clients" <<'PY'
import http.client, json, sys, threading, time
api, key, actors, clients = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
h = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}
errors = []

def post(first):
    conn = http.client.HTTPConnection(api, timeout=60)
    for i in range(first, actors + 1, clients):
        body = json.dumps({"actor_id": "a%05d" % i, "verb": "post", "object_type": "track",
                           "object_id": "small-%d" % i})
        conn.request("POST", "/v1/activities", body, h)
        r = conn.getresponse()
        text = r.read()
        if r.status != 202:
            errors.append(f"{r.status} {text[:200]!r}")
            return

threads = [threading.Thread(target=post, args=(c + 1,)) for c in range(clients)]
t0 = time.time()
for t in threads:
    t.start()
for t in threads:
    t.join()
if errors:
    sys.exit(f"POST /v1/activities failed: {errors[0]}")
print(f"{t0:.6f} {time.time() - t0:.4f}")
PY
)
read -r small_t0 post_s <<<"$posts_out"
post_rate=$(calc "$actors / $post_s")
printf 'POSTed %d activities in %.2f s (%d client threads): %.0f/s\n' "$actors" "$post_s" "$clients" "$post_rate"
last=0
while :; do
  IFS='|' read -r ok bad <<<"$(sql "SELECT count(*) FILTER (WHERE j.state = 'succeeded'),
    count(*) FILTER (WHERE j.state IN ('failed', 'cancelled'))
    FROM activities a JOIN jobs j ON j.id = a.job_id
    WHERE a.tenant_id = '$tenant' AND a.object_id LIKE 'small-%'")"
  [ "$bad" -eq 0 ] || { echo "$bad small fan-outs failed" >&2; exit 1; }
  [ "$ok" -ge "$actors" ] && break
  alive
  if [ "$(calc "$(now) - $last >= 5")" -eq 1 ]; then
    printf '  %6.1f s  %6d of %d fan-outs succeeded\n' "$(calc "$(now) - $small_t0")" "$ok" "$actors"
    last=$(now)
  fi
  sleep 0.1
done
end=$(now)
cpu_stop small
sampler_stop small
small_s=$(calc "$end - $small_t0")
small_rows=$(sql "SELECT count(*) FROM feed_items f JOIN activities a ON a.id = f.activity_id
  WHERE a.tenant_id = '$tenant' AND a.object_id LIKE 'small-%'")
[ "$small_rows" -eq "$small_edges" ] || { echo "expected $small_edges feed rows, found $small_rows" >&2; exit 1; }
small_rate=$(calc "$actors / $small_s")
cpu_report small "$small_s"
sampler_report small
small_row_rate=$(calc "$small_rows / $small_s")
IFS='|' read -r lat50 lat99 latmax parent_runs <<<"$(sql "
  SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY j.finished_at - j.created_at),
         percentile_disc(0.99) WITHIN GROUP (ORDER BY j.finished_at - j.created_at),
         max(j.finished_at - j.created_at), sum(j.attempts)
  FROM activities a JOIN jobs j ON j.id = a.job_id WHERE a.tenant_id = '$tenant' AND a.object_id LIKE 'small-%'")"
chunk_runs=$(sql "SELECT coalesce(sum(c.attempts), 0) FROM jobs c JOIN activities a ON a.job_id = c.parent_id
  WHERE a.tenant_id = '$tenant' AND a.object_id LIKE 'small-%'")
runs=$((parent_runs + chunk_runs))
printf 'all %d fan-outs succeeded %.2f s after the first POST: %.0f activities/s, %.0f feed rows/s\n' \
  "$actors" "$small_s" "$small_rate" "$small_row_rate"
printf 'per fan-out, accepted to finished: p50 %s ms, p99 %s ms, max %s ms; %d job attempts (%.0f/s)\n' \
  "$lat50" "$lat99" "$latmax" "$runs" "$(calc "$runs / $small_s")"

# ---------------------------------------------------------------- summary
alive
cat <<EOF

==================== fan-out benchmark summary ====================
followers $followers, workers $workers, $("$bin" config | awk '$1 == "concurrency" || $1 == "fanout_chunk_size" {gsub(/"/, "", $3); printf "%s %s, ", $1, $3}')$(nproc) CPUs
1. graph import           $(printf '%10.2f s  %10.0f edges/s' "$import_s" "$import_rate")
2. fan-out (POST→done)    $(printf '%10.3f s  %10.0f rows/s  (%d chunks; planned by %d ms; chunks ran %d–%d ms)' "$fanout_s" "$fanout_rate" "$chunks" "$plan_ms" "$first_claim_ms" "$chunks_done_ms")
   feed rows written      $(printf '%10d    (expected %d)' "$rows" "$followers")
3. COPY same rows         $(printf '%10.3f s  %10.0f rows/s' "$copy_s" "$copy_rate")
   fan-out / COPY         $(printf '%10.2f    (target <= 2.0)' "$ratio")
4. feed reads ($(printf '%d' "$total_rows") rows)
   first page  x2000      $(printf 'p50 %6s ms  p99 %6s ms  max %7s ms' "$p1_50" "$p1_99" "$p1_max")
   second page x500       $(printf 'p50 %6s ms  p99 %6s ms  max %7s ms' "$p2_50" "$p2_99" "$p2_max")
   EXPLAIN ANALYZE        $(printf 'planning %s ms, execution %s ms' "$explain_plan" "$explain_exec")
5. small fan-outs         $(printf '%d actors x %d followers' "$actors" "$per_actor")
   graph import           $(printf '%10.2f s  %10.0f edges/s' "$small_import_s" "$small_import_rate")
   POSTs                  $(printf '%10.2f s  %10.0f activities/s' "$post_s" "$post_rate")
   all succeeded          $(printf '%10.2f s  %10.0f activities/s  %10.0f feed rows/s' "$small_s" "$small_rate" "$small_row_rate")
   per fan-out latency    $(printf 'p50 %s ms  p99 %s ms  max %s ms' "$lat50" "$lat99" "$latmax")
===================================================================
EOF
