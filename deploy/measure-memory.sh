#!/usr/bin/env bash
# Peak resident memory (VmHWM) of each role of the Mixdown image under real
# work: the roles of deploy/kubernetes run from the image (buildah, chroot
# isolation, the host's network) on the test services, one process each,
# fed what their queues carry; the figures behind the manifests' memory
# requests and limits.
#
#   deploy/measure-memory.sh      (as root, after scripts/image.sh)
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
env_args=(
  --env "DATABASE_URL=${admin%/*}/$db"
  --env "REDIS_URL=${MIXDOWN_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
  --env "MIXDOWN_REDIS_PREFIX=memory-$$"
  --env "S3_ENDPOINT=${MIXDOWN_TEST_S3_ENDPOINT:-http://127.0.0.1:9001}"
  --env "S3_BUCKET=mixdown-memory"
  --env "AWS_ACCESS_KEY_ID=${MIXDOWN_TEST_S3_ACCESS_KEY:-testing}"
  --env "AWS_SECRET_ACCESS_KEY=${MIXDOWN_TEST_S3_SECRET_KEY:-testing-secret}"
  --env "MIXDOWN_VOICE_KEY=$(head -c 32 /dev/urandom | base64)"
  --env "MIXDOWN_SECRETS_KEY=$(head -c 32 /dev/urandom | base64)"
  --env "MIXDOWN_LISTEN=127.0.0.1:$api_port"
  --env "MIXDOWN_CALLBACK_ALLOW_PRIVATE=true"
  --env "RUST_LOG=warn"
)
ctr=$(buildah from --pull=never "$image")
# The Postgres of the tests answers on its Unix socket.
mounts=(--volume /var/run/postgresql:/var/run/postgresql)

# ROLE ARGS...: runs `mixdown ARGS` in the image in a session of its own.
declare -A role_session=()
start() {
  local role=$1
  shift
  setsid buildah run --isolation chroot "${env_args[@]}" "${mounts[@]}" \
    --env "MIXDOWN_WORKER_LISTEN=127.0.0.1:$(free_port)" "$ctr" -- mixdown "$@" \
    >"$work/$role.log" 2>&1 &
  sessions+=($!)
  role_session[$role]=$!
}

buildah run --isolation chroot "${env_args[@]}" "${mounts[@]}" "$ctr" -- mixdown migrate >/dev/null
key=$(buildah run --isolation chroot "${env_args[@]}" "${mounts[@]}" "$ctr" -- \
  mixdown keys create --tenant memory | awk '{print $NF}')
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
# Waits for job ID to end; fails unless it succeeded.
await() {
  local state
  for _ in $(seq 1 30); do
    state=$(curl -fsS "${auth[@]}" "$base/v1/jobs/$1?wait=30" | json '["state"]')
    case $state in
      succeeded) return 0 ;;
      failed | cancelled) mixdown_die "job $1 ($2) ended $state" ;;
    esac
  done
  mixdown_die "job $1 ($2) still $state after 15 minutes"
}
post() { curl -fsS "${auth[@]}" -H 'Content-Type: application/json' "$base$1" -d "$2"; }

mixdown_info "two 10-minute uploads at once"
sox -n -r 44100 -c 2 -b 16 "$work/long.wav" synth 600 pinknoise vol 0.3 tremolo 3 40
upload() {
  curl -fsS "${auth[@]}" -H 'Content-Type: audio/wav' --data-binary "@$work/long.wav" "$base/v1/uploads"
}
upload >"$work/first.json" &
upload >"$work/second.json"
wait $!
await "$(json '["job_id"]' <"$work/first.json")" track &
await "$(json '["job_id"]' <"$work/second.json")" track
wait $!
track=$(json '["track_id"]' <"$work/first.json")

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
await "$(curl -fsS "${auth[@]}" -F user_id=singer "${samples[@]}" "$base/v1/voice/enrollments" | json '["job_id"]')" voice_enroll
verify=$(curl -fsS "${auth[@]}" -F user_id=singer -F "sample=@$work/sample-0.wav;type=audio/wav" "$base/v1/voice/verifications")
await "$(json '["job_id"]' <<<"$verify")" voice_verify

mixdown_info "a fan-out to 20,000 followers"
seq 1 20000 | awk '{printf "{\"op\": \"follow\", \"from\": \"fan%d\", \"to\": \"artist\"}\n", $1}' >"$work/graph.ndjson"
curl -fsS "${auth[@]}" -H 'Content-Type: application/x-ndjson' --data-binary "@$work/graph.ndjson" "$base/v1/graph" >/dev/null
activity='{"actor_id": "artist", "verb": "publish", "object_type": "track", "object_id": "t1"}'
await "$(post /v1/activities "$activity" | json '["job_id"]')" fanout

mixdown_info "200 http jobs and 1,000 noop jobs"
http_port=$(free_port)
python3 -m http.server "$http_port" --bind 127.0.0.1 --directory "$work" >/dev/null 2>&1 &
sessions+=($!)
batch() {
  python3 -c 'import json, sys
n, job = int(sys.argv[1]), json.loads(sys.argv[2])
print(json.dumps({"jobs": [job] * n}))' "$@" | curl -fsS "${auth[@]}" -H 'Content-Type: application/json' \
    --data-binary @- "$base/v1/jobs/batch" | json '["jobs"][-1]["job_id"]'
}
await "$(batch 200 "{\"kind\": \"http\", \"payload\": {\"url\": \"http://127.0.0.1:$http_port/graph.ndjson\", \"method\": \"GET\"}}")" http
await "$(batch 1000 '{"kind": "noop", "payload": {"sleep_ms": 200}}')" noop

# The mixdown process under each role's buildah session.
descendant_mixdown() {
  local pid child
  for pid in $(ps -o pid= --ppid "$1"); do
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = mixdown ]; then echo "$pid"; return; fi
    child=$(descendant_mixdown "$pid") && [ -n "$child" ] && { echo "$child"; return; }
  done
}
printf '%-10s %s\n' role 'peak RSS (VmHWM)'
for role in api tracks waveform voice fanout callbacks noop; do
  pid=$(descendant_mixdown "${role_session[$role]}")
  printf '%-10s %s\n' "$role" "$(awk '/VmHWM/ {printf "%.0f MiB", $2 / 1024}' "/proc/$pid/status")"
done
