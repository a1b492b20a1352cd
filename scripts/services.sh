# shellcheck shell=bash
# Test services for Mixdown: PostgreSQL, Redis and an S3-compatible server
# (s3s-fs). Sourced by scripts/test.sh after scripts/setup.sh.
#
# mixdown_test_services exports the MIXDOWN_TEST_* variables (keeping values
# already set in the environment) and makes sure every service that uses its
# default local address is answering, starting it when it is not. Services
# that were started are left running for the next run.

MIXDOWN_S3S_FS_VERSION="0.14.1" # newer releases need a newer Rust
MIXDOWN_WAIT_SECONDS="${MIXDOWN_WAIT_SECONDS:-30}"
MIXDOWN_STATE_DIR="${TMPDIR:-/tmp}/mixdown-services"
MIXDOWN_SERVICES_SUMMARY=()

mixdown_user() { id -un; }

# mixdown_wait_for NAME CMD...: poll CMD until it succeeds, bounded.
mixdown_wait_for() {
  local name="$1" deadline
  shift
  deadline=$((SECONDS + MIXDOWN_WAIT_SECONDS))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      mixdown_info "$name did not answer within ${MIXDOWN_WAIT_SECONDS}s"
      return 1
    fi
    sleep 0.5
  done
}

mixdown_summary() { MIXDOWN_SERVICES_SUMMARY+=("$1=$2"); }

# --- PostgreSQL -------------------------------------------------------------

MIXDOWN_PG_SOCKET_DIR="/var/run/postgresql"

mixdown_as_postgres() {
  if mixdown_is_root; then
    runuser -u postgres -- "$@"
  elif [ -t 0 ]; then
    sudo -u postgres "$@"
  else
    sudo -n -u postgres "$@"
  fi
}

mixdown_pg_ready() { pg_isready -q -h "$MIXDOWN_PG_SOCKET_DIR"; }
mixdown_pg_login() { psql -X -q -h "$MIXDOWN_PG_SOCKET_DIR" -d postgres -At -c 'select 1' >/dev/null 2>&1; }

# Newest installed PostgreSQL major version with a configuration directory.
mixdown_pg_version() {
  find /etc/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort -V | tail -n 1
}

mixdown_start_postgres() {
  local version
  version="$(mixdown_pg_version)"
  if [ -z "$version" ]; then
    version="$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort -V | tail -n 1)"
    [ -n "$version" ] || mixdown_die "PostgreSQL is not installed (no /usr/lib/postgresql/<version>)"
  fi
  if [ ! -d "/etc/postgresql/$version/main" ]; then
    mixdown_info "creating PostgreSQL $version cluster 'main'"
    mixdown_as_root pg_createcluster "$version" main >/dev/null
  fi
  mixdown_as_root install -d -o postgres -g postgres -m 2775 "$MIXDOWN_PG_SOCKET_DIR"
  mixdown_info "starting PostgreSQL $version"
  # "already running" is not an error; readiness is checked below.
  mixdown_as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
}

# Make sure the current user can log in over the local socket as a role with
# the same name (superuser, so tests can create databases).
mixdown_pg_ensure_role() {
  mixdown_pg_login && return 0
  local user version hba
  user="$(mixdown_user)"
  [[ "$user" =~ ^[A-Za-z0-9_.-]+$ ]] || mixdown_die "unsupported user name for a PostgreSQL role: $user"
  if [ "$(mixdown_as_postgres psql -X -d postgres -Atc "select 1 from pg_roles where rolname = '$user'")" != "1" ]; then
    mixdown_info "creating PostgreSQL superuser role '$user'"
    mixdown_as_postgres createuser -s "$user" || mixdown_die "could not create PostgreSQL role '$user'"
  fi
  mixdown_pg_login && return 0

  # Peer authentication did not let us in: trust local socket connections
  # for this role (first matching line wins, so prepend).
  version="$(mixdown_pg_version)"
  hba="/etc/postgresql/$version/main/pg_hba.conf"
  [ -f "$hba" ] || mixdown_die "cannot log in to PostgreSQL as '$user' and $hba does not exist"
  mixdown_info "allowing local socket logins for role '$user' in $hba"
  mixdown_as_root sed -i "1i local all $user trust # added by Mixdown scripts/test.sh" "$hba"
  mixdown_as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  mixdown_wait_for "PostgreSQL login as '$user'" mixdown_pg_login ||
    mixdown_die "cannot log in to PostgreSQL as '$user' over $MIXDOWN_PG_SOCKET_DIR"
}

mixdown_ensure_postgres() {
  local default
  default="postgres://$(mixdown_user)@%2Fvar%2Frun%2Fpostgresql/postgres"
  if [ -n "${MIXDOWN_TEST_POSTGRES_URL:-}" ] && [ "$MIXDOWN_TEST_POSTGRES_URL" != "$default" ]; then
    mixdown_summary postgres "external"
    return 0
  fi
  export MIXDOWN_TEST_POSTGRES_URL="$default"
  if mixdown_pg_ready; then
    mixdown_summary postgres "running"
  else
    mixdown_start_postgres
    mixdown_wait_for "PostgreSQL" mixdown_pg_ready || mixdown_die "PostgreSQL did not start (see /var/log/postgresql/)"
    mixdown_summary postgres "started"
  fi
  mixdown_pg_ensure_role
}

# --- Redis ------------------------------------------------------------------

mixdown_redis_ready() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

mixdown_start_redis() {
  local dir logfile
  if mixdown_is_root; then
    dir=/var/lib/redis
    logfile=/var/log/redis/ci.log
  else
    dir="$MIXDOWN_STATE_DIR/redis"
    logfile="$MIXDOWN_STATE_DIR/redis.log"
  fi
  mkdir -p "$dir" "$(dirname "$logfile")"
  local args=(--daemonize yes --port 6379 --save "" --appendonly no --dir "$dir" --logfile "$logfile")
  mixdown_info "starting Redis (log: $logfile)"
  # "-::1" (optional IPv6 bind) needs Redis >= 7; fall back to IPv4 only.
  redis-server "${args[@]}" --bind 127.0.0.1 -::1 ||
    redis-server "${args[@]}" --bind 127.0.0.1 ||
    mixdown_die "redis-server failed to start (see $logfile)"
}

mixdown_ensure_redis() {
  local default="redis://127.0.0.1:6379"
  if [ -n "${MIXDOWN_TEST_REDIS_URL:-}" ] && [ "$MIXDOWN_TEST_REDIS_URL" != "$default" ]; then
    mixdown_summary redis "external"
    return 0
  fi
  export MIXDOWN_TEST_REDIS_URL="$default"
  if mixdown_redis_ready; then
    mixdown_summary redis "running"
    return 0
  fi
  mixdown_start_redis
  mixdown_wait_for "Redis" mixdown_redis_ready || mixdown_die "Redis did not start"
  mixdown_summary redis "started"
}

# --- Redis Cluster -----------------------------------------------------------
# Three masters on loopback, no replicas, nothing kept on disk: the queue's
# cluster tests run against it (MIXDOWN_TEST_REDIS_CLUSTER_URL).

MIXDOWN_CLUSTER_PORTS=(17001 17002 17003)

mixdown_cluster_ready() {
  [ "$(redis-cli -p "${MIXDOWN_CLUSTER_PORTS[0]}" cluster info 2>/dev/null | tr -d '\r' |
    awk -F: '$1 == "cluster_state" {print $2}')" = "ok" ]
}

mixdown_start_cluster() {
  local port dir nodes=()
  for port in "${MIXDOWN_CLUSTER_PORTS[@]}"; do
    dir="$MIXDOWN_STATE_DIR/cluster-$port"
    mkdir -p "$dir"
    if [ "$(redis-cli -p "$port" ping 2>/dev/null)" != "PONG" ]; then
      # A node that ran before may have kept a stale view of the cluster.
      rm -f "$dir/nodes.conf"
      redis-server --daemonize yes --port "$port" --bind 127.0.0.1 --dir "$dir" \
        --cluster-enabled yes --cluster-config-file nodes.conf --save '' --appendonly no \
        --logfile "$dir/redis.log" || mixdown_die "redis-server (cluster node $port) failed to start"
    fi
    mixdown_wait_for "Redis cluster node $port" redis-cli -p "$port" ping
    nodes+=("127.0.0.1:$port")
  done
  mixdown_info "creating a Redis Cluster of ${nodes[*]}"
  # A node left over from a half-made cluster refuses to join another: empty them first.
  for port in "${MIXDOWN_CLUSTER_PORTS[@]}"; do
    redis-cli -p "$port" flushall >/dev/null 2>&1 || true
    redis-cli -p "$port" cluster reset hard >/dev/null 2>&1 || true
  done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >/dev/null ||
    mixdown_die "redis-cli --cluster create failed"
}

mixdown_ensure_cluster() {
  local default port
  default="redis+cluster://$(printf '127.0.0.1:%s,' "${MIXDOWN_CLUSTER_PORTS[@]}")"
  default="${default%,}"
  if [ -n "${MIXDOWN_TEST_REDIS_CLUSTER_URL:-}" ] && [ "$MIXDOWN_TEST_REDIS_CLUSTER_URL" != "$default" ]; then
    mixdown_summary redis-cluster "external"
    return 0
  fi
  export MIXDOWN_TEST_REDIS_CLUSTER_URL="$default"
  if mixdown_cluster_ready; then
    mixdown_summary redis-cluster "running"
    return 0
  fi
  mixdown_start_cluster
  mixdown_wait_for "Redis Cluster" mixdown_cluster_ready || mixdown_die "the Redis Cluster did not form"
  mixdown_summary redis-cluster "started"
}

# --- S3 (s3s-fs) ------------------------------------------------------------

# Any HTTP answer counts (unsigned requests get an S3 error response).
mixdown_s3_ready() {
  local code
  code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:9001/" 2>/dev/null || true)"
  [ -n "$code" ] && [ "$code" != "000" ]
}

mixdown_install_s3s_fs() {
  command -v s3s-fs >/dev/null 2>&1 && return 0
  mixdown_info "installing s3s-fs $MIXDOWN_S3S_FS_VERSION with cargo (one-time, a few minutes)"
  cargo install "s3s-fs@$MIXDOWN_S3S_FS_VERSION" --features binary --locked ||
    mixdown_die "cargo install s3s-fs@$MIXDOWN_S3S_FS_VERSION failed"
  command -v s3s-fs >/dev/null 2>&1 || mixdown_die "s3s-fs installed but not on PATH"
}

mixdown_start_s3() {
  local data="${TMPDIR:-/tmp}/mixdown-s3" log="$MIXDOWN_STATE_DIR/s3s-fs.log"
  mkdir -p "$data" "$MIXDOWN_STATE_DIR"
  mixdown_info "starting s3s-fs on 127.0.0.1:9001 (data: $data, log: $log)"
  # Detached from this session and from its stdio, so it outlives the tests.
  setsid s3s-fs --host 127.0.0.1 --port 9001 \
    --access-key "$MIXDOWN_TEST_S3_ACCESS_KEY" --secret-key "$MIXDOWN_TEST_S3_SECRET_KEY" \
    "$data" </dev/null >>"$log" 2>&1 &
  local pid=$! deadline=$((SECONDS + MIXDOWN_WAIT_SECONDS))
  echo "$pid" >"$MIXDOWN_STATE_DIR/s3s-fs.pid"
  until mixdown_s3_ready; do
    if ! kill -0 "$pid" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 20 "$log" >&2 || true
      mixdown_die "s3s-fs did not start (see $log)"
    fi
    sleep 0.5
  done
}

mixdown_ensure_s3() {
  local default="http://127.0.0.1:9001"
  export MIXDOWN_TEST_S3_ACCESS_KEY="${MIXDOWN_TEST_S3_ACCESS_KEY:-testing}"
  export MIXDOWN_TEST_S3_SECRET_KEY="${MIXDOWN_TEST_S3_SECRET_KEY:-testing-secret}"
  if [ -n "${MIXDOWN_TEST_S3_ENDPOINT:-}" ] && [ "$MIXDOWN_TEST_S3_ENDPOINT" != "$default" ]; then
    mixdown_summary s3 "external"
    return 0
  fi
  export MIXDOWN_TEST_S3_ENDPOINT="$default"
  if mixdown_s3_ready; then
    mixdown_summary s3 "running"
    return 0
  fi
  mixdown_install_s3s_fs
  mixdown_start_s3
  mixdown_summary s3 "started(pid=$(cat "$MIXDOWN_STATE_DIR/s3s-fs.pid"))"
}

# --- all --------------------------------------------------------------------

mixdown_test_services() {
  MIXDOWN_SERVICES_SUMMARY=()
  mixdown_ensure_postgres
  mixdown_ensure_redis
  mixdown_ensure_cluster
  mixdown_ensure_s3
  mixdown_info "services: ${MIXDOWN_SERVICES_SUMMARY[*]}"
  mixdown_info "MIXDOWN_TEST_POSTGRES_URL=$MIXDOWN_TEST_POSTGRES_URL"
  mixdown_info "MIXDOWN_TEST_REDIS_URL=$MIXDOWN_TEST_REDIS_URL"
  mixdown_info "MIXDOWN_TEST_REDIS_CLUSTER_URL=$MIXDOWN_TEST_REDIS_CLUSTER_URL"
  mixdown_info "MIXDOWN_TEST_S3_ENDPOINT=$MIXDOWN_TEST_S3_ENDPOINT (access key $MIXDOWN_TEST_S3_ACCESS_KEY)"
}
