#!/usr/bin/env bash
# Install what the tests need, then run everything:
#   style and type checks (ruff, mypy), the test suite on SQLite with line
#   coverage (S3 tests against a moto server on loopback included, and the
#   demo's page driven in headless Chromium), the tests built on
#   pytest-invenio's fixtures (tests_invenio/, a pytest run of their own), the
#   documentation's examples and build, a smoke run of the benchmarks, and the
#   test suite again on a throwaway PostgreSQL server (with the load and fault
#   tests).
#
#   ./run-tests.sh                 # everything
#   ./run-tests.sh tests/test_api.py -k rename   # extra arguments go to pytest
#   ./run-tests.sh -m "not slow"   # quick loop: without the README's pip
#                                  # install and the long state-machine run
#   ./run-tests.sh --lf            # only the tests that failed last time
#
# The full run measures the package's line coverage on the SQLite run and
# fails under 90% (pyproject.toml's [tool.coverage.report]); with extra
# arguments only the tests run, without coverage.
#
# A throwaway Redis server on loopback (scripts/redis.sh, Debian's
# redis-server) is the Celery broker of the real-worker test; when none can
# be started that test is skipped, saying why.
#
# Environment: VENV (default .venv), SKIP_POSTGRESQL=1 to skip the
# PostgreSQL run, SKIP_BROWSER=1 not to install Chromium (apt-get, as root
# or with sudo) nor axe-core (npm): the browser tests then run only if they
# are already installed.
set -euo pipefail
cd "$(dirname "$0")"

VENV=${VENV:-.venv}
PY="$VENV/bin/python"

step() { printf '\n==> %s\n' "$*"; }

step "Installing into $VENV"
if [ ! -x "$PY" ]; then
    python3 -m venv "$VENV"
fi
"$PY" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$PY" -m pip install --quiet --disable-pip-version-check -e ".[tests]"

step "Browser for the page tests: Debian's chromium and chromium-driver, axe-core"
if [ "${SKIP_BROWSER:-}" = 1 ]; then
    echo "Not installing Chromium (SKIP_BROWSER=1)."
elif [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    echo "Chromium is installed."
else
    SUDO=""
    if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    fi
    if ! command -v apt-get >/dev/null; then
        echo "Browser tests will be skipped: no apt-get here to install Debian's chromium and chromium-driver."
    elif [ "$(id -u)" != 0 ] && [ -z "$SUDO" ]; then
        echo "Browser tests will be skipped: installing chromium and chromium-driver needs root (or sudo without a password)."
    elif ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
            $SUDO apt-get install -y -qq chromium chromium-driver; } >/tmp/rfx-apt.log 2>&1; then
        echo "Browser tests will be skipped: apt-get could not install chromium and chromium-driver:"
        tail -n 5 /tmp/rfx-apt.log
    fi
fi
# axe-core checks the page's accessibility; pinned in tests/a11y's lock file.
if [ "${SKIP_BROWSER:-}" = 1 ]; then
    echo "Not installing axe-core (SKIP_BROWSER=1)."
elif command -v npm >/dev/null; then
    npm ci --silent --no-audit --no-fund --prefix tests/a11y >/dev/null 2>&1 \
        || echo "axe-core could not be installed (npm ci in tests/a11y): its check will be skipped."
else
    echo "No npm here: the axe-core accessibility check will be skipped."
fi

step "Style and types: ruff (lint, format), mypy"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/mypy" invenio_records_files_ext tests tests_invenio benchmarks examples

step "Redis (Celery broker of the real-worker test)"
REDISDIR=$(mktemp -d /tmp/rfx-redis.XXXXXX)
REDISPORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PGDIR=""
cleanup() {
    # Clean-up keeps the tests' exit status: a leftover temporary folder
    # is not a failed run.
    local status=$?
    scripts/redis.sh stop "$REDISDIR" || echo "warning: could not remove $REDISDIR"
    if [ -n "$PGDIR" ]; then
        scripts/postgres.sh stop "$PGDIR" || echo "warning: could not remove $PGDIR"
    fi
    exit "$status"
}
trap cleanup EXIT
if RFX_REDIS_URL=$(scripts/redis.sh start "$REDISDIR" "$REDISPORT"); then
    export RFX_REDIS_URL
    echo "Redis on $RFX_REDIS_URL"
else
    echo "No Redis here: the real-worker test will be skipped (see above)."
fi

if [ $# -gt 0 ]; then
    step "Tests on SQLite"
    "$PY" -m pytest "$@"
    exit 0
fi

step "Tests on SQLite, with line coverage of the package"
"$PY" -m pytest --cov --cov-report=term-missing:skip-covered

step "Tests on pytest-invenio's own fixtures (tests_invenio/, SQLite)"
"$PY" -m pytest -q -p flask -p invenio tests_invenio

step "Documentation: examples (doctests) and build"
"$PY" -m pytest -q --doctest-glob='*.rst' docs
"$PY" -m sphinx -qnNW -b html docs docs/_build/html

step "Benchmarks: smoke run (figures are measured with the full runs, see benchmarks/README.rst)"
"$PY" benchmarks/scale.py --quick
"$PY" benchmarks/attach.py --quick
"$PY" benchmarks/rest_throughput.py --quick
"$PY" benchmarks/writeback.py --quick
"$PY" benchmarks/migration.py --quick
"$PY" benchmarks/transfers.py --quick
"$PY" benchmarks/archive.py --quick
"$PY" benchmarks/fixity.py --quick
"$PY" benchmarks/bag_archive.py --quick
"$PY" benchmarks/listing.py --quick
"$PY" benchmarks/load.py --quick
"$PY" benchmarks/zip_choice.py --quick

if [ "${SKIP_POSTGRESQL:-}" = 1 ]; then
    step "PostgreSQL run skipped (SKIP_POSTGRESQL=1)"
    exit 0
fi

step "Tests on PostgreSQL"
PGDIR=$(mktemp -d /tmp/rfx-postgres.XXXXXX)
PGPORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
set +e
PGURI=$(scripts/postgres.sh start "$PGDIR" "$PGPORT")
status=$?
set -e
if [ $status -eq 3 ]; then
    echo "PostgreSQL run skipped: this machine cannot start a PostgreSQL server (see above)."
    exit 0
elif [ $status -ne 0 ]; then
    echo "Could not start PostgreSQL; server log:" >&2
    cat "$PGDIR/server.log" "$PGDIR/initdb.log" >&2 2>/dev/null || true
    exit $status
fi
# The load and fault tests restart this server; they run in their reduced
# form unless RFX_LOAD_SCALE=full.
RFX_POSTGRES_DIR="$PGDIR" SQLALCHEMY_DATABASE_URI="$PGURI" "$PY" -m pytest -q

step "Tests on pytest-invenio's own fixtures (tests_invenio/, PostgreSQL)"
# A database of their own: pytest-invenio creates and drops every table.
SQLALCHEMY_DATABASE_URI="${PGURI%/*}/rfx_pytest_invenio" \
    "$PY" -m pytest -q -p flask -p invenio tests_invenio
