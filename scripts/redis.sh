#!/usr/bin/env bash
# A throwaway Redis server on loopback: the Celery broker of the tests.
#
#   scripts/redis.sh start DIR PORT   # prints the broker URL
#   scripts/redis.sh stop DIR
#
# Uses Debian's redis-server package, installing it when missing and the
# machine allows (root and apt-get). Exits 3 when no server can be started,
# so that callers can skip the tests that need it with a clear message.
set -euo pipefail

install_redis() {
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends redis-server >/dev/null 2>&1 || {
        apt-get update -q >/dev/null 2>&1 &&
            apt-get install -y -q --no-install-recommends redis-server >/dev/null 2>&1
    }
}

start() {
    local dir=$1 port=$2
    if ! command -v redis-server >/dev/null; then
        install_redis || {
            echo "redis-server is not installed and cannot be installed here (needs root and apt-get)." >&2
            exit 3
        }
    fi
    mkdir -p "$dir"
    redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" \
        --save "" --appendonly no --daemonize yes \
        --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null
    for _ in $(seq 1 50); do
        if redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then
            echo "redis://127.0.0.1:${port}/0"
            return 0
        fi
        sleep 0.1
    done
    echo "redis-server did not answer on port $port; log:" >&2
    cat "$dir/redis.log" >&2 || true
    exit 1
}

stop() {
    local dir=$1 pid
    if [ -f "$dir/redis.pid" ]; then
        pid=$(cat "$dir/redis.pid")
        kill "$pid" 2>/dev/null || true
        # kill only asks: the server still writes its log on the way out,
        # and removing the folder under it fails with "Directory not empty".
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -rf "$dir" 2>/dev/null || { sleep 0.5; rm -rf "$dir" || true; }
}

case "${1:-}" in
start) start "$2" "$3" ;;
stop) stop "$2" ;;
*)
    echo "usage: $0 start DIR PORT | stop DIR" >&2
    exit 2
    ;;
esac
