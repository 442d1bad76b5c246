#!/usr/bin/env bash
# Throw-away Redis for the multi-node tests and bench.
#   eval "$(bash eng/redis.sh start)"   # installs Debian's redis-server if missing, starts it on 127.0.0.1:<free port>
#                                       # without persistence, prints: export AUTOSIGNOUT_TEST_REDIS='127.0.0.1:port'
#   bash eng/redis.sh stop              # stops it and deletes its directory
# Only the export line goes to stdout; everything else goes to stderr. The tests stop and restart the server
# themselves (to prove catch-up after an outage); they read its command line from AUTOSIGNOUT_TEST_REDIS_SERVER.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state_file="$repo_root/artifacts/redis.state"
mkdir -p "$repo_root/artifacts"

log() { echo "redis.sh: $*" >&2; }

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

print_env() {
  echo "export AUTOSIGNOUT_TEST_REDIS='127.0.0.1:$1' AUTOSIGNOUT_TEST_REDIS_SERVER='$(command -v redis-server)'"
}

start() {
  if [[ -f "$state_file" ]]; then
    local old_dir old_port
    read -r old_dir old_port <"$state_file"
    if redis-cli -h 127.0.0.1 -p "$old_port" ping >/dev/null 2>&1; then
      log "reusing the server already running on 127.0.0.1:$old_port"
      print_env "$old_port"
      return 0
    fi
    log "removing a stale server record ($old_dir)"
    rm -rf "$old_dir" "$state_file"
  fi

  if ! command -v redis-server >/dev/null 2>&1; then
    log "installing Debian's redis-server"
    if [[ $(id -u) -ne 0 ]]; then
      log "redis-server is not installed and installing it needs root"
      return 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server >&2
  fi

  local dir port
  dir=$(mktemp -d -t autosignout-redis.XXXXXX)
  port=$(free_port)
  # No persistence (no RDB, no AOF): a restart starts empty unless the test restarts it itself.
  redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save '' --appendonly no \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >&2
  for _ in $(seq 1 100); do
    redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null
  echo "$dir $port" >"$state_file"
  log "Redis listening on 127.0.0.1:$port (files in $dir)"
  print_env "$port"
}

stop() {
  if [[ ! -f "$state_file" ]]; then
    log "no server is running"
    return 0
  fi
  local dir port
  read -r dir port <"$state_file"
  redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$dir" "$state_file"
  log "stopped and removed the server on port $port"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
