#!/usr/bin/env bash
# Throw-away PostgreSQL for the server engine's tests and bench.
#   eval "$(bash eng/postgres.sh start)"   # installs Debian's postgresql if missing, starts a cluster on
#                                          # 127.0.0.1:<free port>, prints: export AUTOSIGNOUT_TEST_POSTGRES='…'
#   bash eng/postgres.sh stop              # stops the cluster and deletes its data directory
# Only the export line goes to stdout; everything else goes to stderr.
set -euo pipefail

# One cluster per checkout: the state lives in the checkout's ignored artifacts folder, so a second clone (or a CI
# run after a session that was stopped mid-way) neither collides with nor is blocked by another's cluster.
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state_file="$repo_root/artifacts/postgres.state"
mkdir -p "$repo_root/artifacts"
password="autosignout"
database="autosignout_test"

log() { echo "postgres.sh: $*" >&2; }

find_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [[ -n "$dir" && -x "$dir/pg_ctl" ]]; then
    echo "$dir"
  fi
}

# Runs a PostgreSQL program as the postgres user when root (the server refuses to run as root).
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  log "no free port found"
  return 1
}

start() {
  if [[ -f "$state_file" ]]; then
    local old_data old_port old_bin
    read -r old_data old_port old_bin <"$state_file"
    if as_pg "$old_bin/pg_ctl" -D "$old_data/db" status >/dev/null 2>&1; then
      log "reusing the cluster already running on 127.0.0.1:$old_port"
      echo "export AUTOSIGNOUT_TEST_POSTGRES='Host=127.0.0.1;Port=$old_port;Username=postgres;Password=$password;Database=$database'"
      return 0
    fi
    # Left behind by a session that ended without "stop": its server is gone, so is its use.
    log "removing a stale cluster record ($old_data)"
    rm -rf "$old_data" "$state_file"
  fi

  local bin
  bin=$(find_bin)
  if [[ -z "$bin" ]]; then
    log "installing Debian's postgresql"
    if [[ $(id -u) -ne 0 ]]; then
      log "postgresql is not installed and installing it needs root"
      return 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >&2
    bin=$(find_bin)
  fi

  local data port pwfile
  # As root the server runs as postgres, which must be able to reach the data directory: the system's temporary
  # directory, not a $TMPDIR of root's.
  data=$(env -u TMPDIR mktemp -d -t autosignout-pg.XXXXXX)
  port=$(free_port)
  pwfile="$data/pwfile"
  echo "$password" >"$pwfile"
  if [[ $(id -u) -eq 0 ]]; then
    chown -R postgres:postgres "$data"
  fi

  as_pg "$bin/initdb" -D "$data/db" -U postgres --pwfile="$pwfile" -A scram-sha-256 --auth-local=trust -E UTF8 --locale=C.UTF-8 >&2
  as_pg "$bin/pg_ctl" -D "$data/db" -l "$data/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$data -c max_connections=200" start >&2
  echo "$data $port $bin" >"$state_file"
  PGPASSWORD="$password" as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres "$database" >&2
  log "PostgreSQL listening on 127.0.0.1:$port (data in $data)"
  echo "export AUTOSIGNOUT_TEST_POSTGRES='Host=127.0.0.1;Port=$port;Username=postgres;Password=$password;Database=$database'"
}

stop() {
  if [[ ! -f "$state_file" ]]; then
    log "no cluster is running"
    return 0
  fi
  local data port bin
  read -r data port bin <"$state_file"
  as_pg "$bin/pg_ctl" -D "$data/db" -m fast -w stop >&2 || true
  rm -rf "$data" "$state_file"
  log "stopped and removed the cluster on port $port"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
