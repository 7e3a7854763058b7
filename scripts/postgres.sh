#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback, for the test suite.
#
#   scripts/postgres.sh start DIR PORT   # prints the database URI
#   scripts/postgres.sh restart DIR      # fast shutdown, then start again
#   scripts/postgres.sh stop DIR
#
# Uses Debian's postgresql package, installing it when missing and the
# machine allows (root and apt-get). Exits 3 when no server can be started,
# so that callers can skip the PostgreSQL run with a clear message.
set -euo pipefail

find_bindir() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

as_owner() {
    # PostgreSQL refuses to run as root: use the package's postgres user.
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

install_postgresql() {
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends postgresql >/dev/null 2>&1 || {
        apt-get update -q >/dev/null 2>&1 &&
            apt-get install -y -q --no-install-recommends postgresql >/dev/null 2>&1
    }
}

start() {
    local dir=$1 port=$2 bindir
    bindir=$(find_bindir)
    if [ -z "$bindir" ]; then
        install_postgresql || {
            echo "PostgreSQL is not installed and cannot be installed here (needs root and apt-get)." >&2
            exit 3
        }
        bindir=$(find_bindir)
    fi
    if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
        echo "Running as root but there is no postgres user to run the server." >&2
        exit 3
    fi
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    as_owner "$bindir/initdb" -D "$dir/data" -A trust -U postgres >"$dir/initdb.log" 2>&1
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
        start >/dev/null
    "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres rfx_tests
    echo "postgresql+psycopg2://postgres@127.0.0.1:${port}/rfx_tests"
}

restart() {
    local dir=$1 bindir
    bindir=$(find_bindir)
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m fast -w -t 60 restart >/dev/null
}

stop() {
    local dir=$1 bindir
    bindir=$(find_bindir)
    if [ -n "$bindir" ] && [ -d "$dir/data" ]; then
        as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}

case "${1:-}" in
start) start "$2" "$3" ;;
restart) restart "$2" ;;
stop) stop "$2" ;;
*)
    echo "usage: $0 start DIR PORT | restart DIR | stop DIR" >&2
    exit 2
    ;;
esac
