# shellcheck shell=bash
# Shared by the fleet benchmarks; sourced, not run. Starts the test services,
# builds the release binary, makes a fresh database and exports the settings
# of a fleet on it. The caller adds the pids of what it starts to
# `bench_pids`; on exit they are stopped and the database is dropped.
#
#   bench_fleet NAME PACKAGE...   NAME names the database and Redis prefix;
#                                 PACKAGEs are extra apt packages it needs.
# Sets: bin (the release binary), work (a temporary directory).
# MIXDOWN_BENCH_PROFILE=debug uses the debug build instead (a quick look, not
# a figure to quote).

# shellcheck source=scripts/setup.sh
source scripts/setup.sh

bench_pids=()

bench_cleanup() {
  kill "${bench_pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  psql -q "$bench_admin_url" -c "DROP DATABASE IF EXISTS $bench_db WITH (FORCE)" || true
  rm -rf "$work"
}

bench_fleet() {
  local name=$1
  shift
  scripts/test.sh --services-only >/dev/null
  mixdown_install_packages postgresql-client "$@"
  bench_profile=${MIXDOWN_BENCH_PROFILE:-release}
  if [ "$bench_profile" = debug ]; then
    cargo build --workspace --locked --bins --examples >/dev/null
  else
    cargo build --release -p mixdown >/dev/null
  fi
  bin=target/$bench_profile/mixdown
  bench_admin_url=${MIXDOWN_TEST_POSTGRES_URL:-postgres://$(id -un)@%2Fvar%2Frun%2Fpostgresql/postgres}
  bench_db=mixdown_${name}_$$
  psql -q "$bench_admin_url" -c "CREATE DATABASE $bench_db"
  work=$(mktemp -d)
  trap bench_cleanup EXIT
  export DATABASE_URL=${bench_admin_url%/*}/$bench_db
  export REDIS_URL=${MIXDOWN_TEST_REDIS_URL:-redis://127.0.0.1:6379}
  export MIXDOWN_REDIS_PREFIX=$name-$$
  export S3_ENDPOINT=${MIXDOWN_TEST_S3_ENDPOINT:-http://127.0.0.1:9001}
  export S3_BUCKET=mixdown-bench
  export AWS_ACCESS_KEY_ID=${MIXDOWN_TEST_S3_ACCESS_KEY:-testing}
  export AWS_SECRET_ACCESS_KEY=${MIXDOWN_TEST_S3_SECRET_KEY:-testing-secret}
  # The API refuses to start without its sealing keys; throwaway ones will do.
  MIXDOWN_VOICE_KEY=$(head -c 32 /dev/urandom | base64)
  MIXDOWN_SECRETS_KEY=$(head -c 32 /dev/urandom | base64)
  export MIXDOWN_VOICE_KEY MIXDOWN_SECRETS_KEY
  export RUST_LOG=${RUST_LOG:-warn}
}
