#!/usr/bin/env bash
# Peak resident memory (VmHWM) of each role of the Mixdown image under real
# work: the roles of deploy/kubernetes run from the image (buildah, chroot
# isolation, the host's network) on the test services, one process each,
# fed what their queues carry; the figures behind the manifests' memory
# requests and limits.
#
#   deploy/measure-memory.sh      (as root, after scripts/image.sh)
#   MIXDOWN_BIN=target/release/mixdown deploy/measure-memory.sh   (a host build instead)
#
# Load: two 10-minute stereo WAV uploads at once (ingest, track and two
# transcodes side by side), a PNG waveform of one, a voice enrollment of
# three spoken samples and a verification, a fan-out to 20,000 followers,
# 200 http jobs to a local server, 1,000 noop jobs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh

image=${MIXDOWN_IMAGE:-localhost/mixdown:latest}
scripts/test.sh --services-only >/dev/null
mixdown_install_packages sox espeak-ng postgresql-client curl python3

admin=${MIXDOWN_TEST_POSTGRES_URL:-postgres://$(id -un)@%2Fvar%2Frun%2Fpostgresql/postgres}
db=mixdown_memory_$$
work=$(mktemp -d)
sessions=()
ctr=
cleanup() {
  local sid
  for sid in "${sessions[@]}"; do kill -- "-$sid" 2>/dev/null || true; done
  sleep 1
  [ -n "$ctr" ] && buildah rm "$ctr" >/dev/null 2>&1
  psql -q "$admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
psql -q "$admin" -c "CREATE DATABASE $db"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
api_port=$(free_port)
settings=(
  "DATABASE_URL=${admin%/*}/$db"
  "REDIS_URL=${MIXDOWN_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
  "MIXDOWN_REDIS_PREFIX=memory-$$"
  "S3_ENDPOINT=${MIXDOWN_TEST_S3_ENDPOINT:-http://127.0.0.1:9001}"
  "S3_BUCKET=mixdown-memory"
  "AWS_ACCESS_KEY_ID=${MIXDOWN_TEST_S3_ACCESS_KEY:-testing}"
  "AWS_SECRET_ACCESS_KEY=${MIXDOWN_TEST_S3_SECRET_KEY:-testing-secret}"
  "MIXDOWN_VOICE_KEY=$(head -c 32 /dev/urandom | base64)"
  "MIXDOWN_SECRETS_KEY=$(head -c 32 /dev/urandom | base64)"
  "MIXDOWN_LISTEN=127.0.0.1:$api_port"
  "MIXDOWN_CALLBACK_ALLOW_PRIVATE=true"
  "RUST_LOG=warn"
)
if [ -n "${MIXDOWN_BIN:-}" ]; then
  settings+=("MIXDOWN_VOICE_MODEL=$(scripts/voice-model.sh)")
else
  ctr=$(buildah from --pull=never "$image")
fi

# Sets `cmd` to run `mixdown ARGS` with the settings above and KEY=VALUEs
# given before `--`: from the image, or MIXDOWN_BIN.
command_for() {
  local extra=()
  while [ "$1" != -- ]; do extra+=("$1"); shift; done
  shift
  if [ -n "${MIXDOWN_BIN:-}" ]; then
    cmd=(env "${settings[@]}" "${extra[@]}" "$MIXDOWN_BIN" "$@")
    return
  fi
  local kv
  cmd=(buildah run --isolation chroot)
  for kv in "${settings[@]}" "${extra[@]}"; do cmd+=(--env "$kv"); done
  # The Postgres of the tests answers on its Unix socket.
  cmd+=(--volume /var/run/postgresql:/var/run/postgresql "$ctr" -- mixdown "$@")
}

# ROLE ARGS...: runs `mixdown ARGS` in a session of its own.
declare -A role_session=()
start() {
  local role=$1
  shift
  command_for "MIXDOWN_WORKER_LISTEN=127.0.0.1:$(free_port)" -- "$@"
  setsid "${cmd[@]}" >"$work/$role.log" 2>&1 &
  sessions+=($!)
  role_session[$role]=$!
}

# The mixdown process of each role's session: its leader, or under buildah.
descendant_mixdown() {
  local pid child
  for pid in "$1" $(ps -o pid= --ppid "$1"); do
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = mixdown ]; then echo "$pid"; return; fi
    [ "$pid" = "$1" ] && continue
    child=$(descendant_mixdown "$pid") && [ -n "$child" ] && { echo "$child"; return; }
  done
}

# The migration runs briefly: its peak is sampled until it exits.
command_for -- migrate
"${cmd[@]}" >/dev/null &
migrate=$!
migrate_kib=0
while kill -0 "$migrate" 2>/dev/null; do
  pid=$(descendant_mixdown "$migrate")
  kib=$(awk '/VmHWM/ {print $2}' "/proc/${pid:-0}/status" 2>/dev/null || true)
  [ "${kib:-0}" -gt "$migrate_kib" ] && migrate_kib=$kib
  sleep 0.05
done
wait "$migrate"
command_for -- keys create --tenant memory
key=$("${cmd[@]}" | awk '{print $NF}')
start api api
start tracks worker --queues ingest,track,transcode --concurrency 2
start waveform worker --queues waveform --concurrency 2
start voice worker --queues voice_enroll,voice_verify --concurrency 4
start fanout worker --queues fanout --concurrency 4
start callbacks worker --queues callback,http --concurrency 32
start noop worker --queues noop --concurrency 50

base=http://127.0.0.1:$api_port
auth=(-H "Authorization: Bearer $key")
for _ in $(seq 1 60); do curl -fs "$base/readyz" >/dev/null && break; sleep 1; done
curl -fsS "$base/readyz" >/dev/null || { cat "$work/api.log" >&2; mixdown_die "the API did not become ready"; }

json() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }
# METHOD PATH [CURL ARGS...]: the answer's body; dies with it on an error status.
call() {
  local out status
  out=$(curl -sS -w '\n%{http_code}' "${auth[@]}" -X "$1" "$base$2" "${@:3}")
  status=${out##*$'\n'}
  out=${out%$'\n'*}
  [ "$status" -lt 400 ] || mixdown_die "$1 $2 answered $status: $out"
  printf '%s\n' "$out"
}
post() { call POST "$1" -H 'Content-Type: application/json' -d "$2"; }
# Waits for job ID to end; fails unless it succeeded.
await() {
  local job state
  for _ in $(seq 1 30); do
    job=$(call GET "/v1/jobs/$1?wait=30")
    state=$(json '["state"]' <<<"$job")
    case $state in
      succeeded) return 0 ;;
      failed | cancelled) mixdown_die "job $1 ($2) ended $state: $job" ;;
    esac
  done
  mixdown_die "job $1 ($2) still $state after 15 minutes"
}

mixdown_info "two 10-minute uploads at once"
sox -n -r 44100 -c 2 -b 16 "$work/long.wav" synth 600 pinknoise vol 0.3 tremolo 3 40
upload() {
  call POST /v1/uploads -H 'Content-Type: audio/wav' --data-binary "@$work/long.wav"
}
upload >"$work/first.json" &
upload >"$work/second.json"
wait $!
# Waits for track ID to be ready.
await_track() {
  local state
  for _ in $(seq 1 450); do
    state=$(call GET "/v1/tracks/$1" | json '["state"]')
    case $state in
      ready) return 0 ;;
      failed) mixdown_die "track $1 failed: $(call GET "/v1/tracks/$1")" ;;
    esac
    sleep 2
  done
  mixdown_die "track $1 still $state after 15 minutes"
}
track=$(json '["track_id"]' <"$work/first.json")
await_track "$track" &
await_track "$(json '["track_id"]' <"$work/second.json")"
wait $!

mixdown_info "a waveform image, a voice enrollment and verification"
await "$(post /v1/jobs "{\"kind\": \"waveform\", \"payload\": {\"track_id\": \"$track\", \"format\": \"png\"}}" | json '["job_id"]')" waveform
samples=()
for text in "The quick brown fox jumps over the lazy dog, then runs back home again." \
  "Every morning the band rehearses the chorus until the timing feels right." \
  "A quiet studio, a warm microphone and one more take before the mix."; do
  file=$work/sample-${#samples[@]}.wav
  espeak-ng -w "$file" "$text"
  samples+=(-F "sample=@$file;type=audio/wav")
done
await "$(call POST /v1/voice/enrollments -F user_id=singer "${samples[@]}" | json '["job_id"]')" voice_enroll
verify=$(call POST /v1/voice/verifications -F user_id=singer -F "sample=@$work/sample-0.wav;type=audio/wav")
await "$(json '["job_id"]' <<<"$verify")" voice_verify

mixdown_info "a fan-out to 20,000 followers"
seq 1 20000 | awk '{printf "{\"op\": \"follow\", \"from\": \"fan%d\", \"to\": \"artist\"}\n", $1}' >"$work/graph.ndjson"
call POST /v1/graph -H 'Content-Type: application/x-ndjson' --data-binary "@$work/graph.ndjson" >/dev/null
activity='{"actor_id": "artist", "verb": "publish", "object_type": "track", "object_id": "t1"}'
await "$(post /v1/activities "$activity" | json '["job_id"]')" fanout

mixdown_info "200 http jobs and 1,000 noop jobs"
http_port=$(free_port)
python3 -m http.server "$http_port" --bind 127.0.0.1 --directory "$work" >/dev/null 2>&1 &
sessions+=($!)
batch() {
  python3 -c 'import json, sys
n, job = int(sys.argv[1]), json.loads(sys.argv[2])
print(json.dumps({"jobs": [job] * n}))' "$@" >"$work/batch.json"
  call POST /v1/jobs/batch -H 'Content-Type: application/json' --data-binary "@$work/batch.json" |
    json '["jobs"][-1]["job_id"]'
}
await "$(batch 200 "{\"kind\": \"http\", \"payload\": {\"url\": \"http://127.0.0.1:$http_port/graph.ndjson\", \"method\": \"GET\"}}")" http
await "$(batch 1000 '{"kind": "noop", "payload": {"sleep_ms": 200}}')" noop

printf '%-10s %s\n' role 'peak RSS (VmHWM)'
printf '%-10s %s MiB\n' migrate "$((migrate_kib / 1024))"
for role in api tracks waveform voice fanout callbacks noop; do
  pid=$(descendant_mixdown "${role_session[$role]}")
  printf '%-10s %s\n' "$role" "$(awk '/VmHWM/ {printf "%.0f MiB", $2 / 1024}' "/proc/$pid/status")"
done
