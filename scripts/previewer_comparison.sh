#!/usr/bin/env bash
# Run Invenio-Previewer's own tests against the original invenio-records-files
# and against this package, and compare them test by test.
#
#   scripts/previewer_comparison.sh PREVIEWER_CHECKOUT [sqlite|postgresql ...]
#
# PREVIEWER_CHECKOUT is a checkout of Invenio-Previewer whose tests/ folder is
# used (for example its v6.0.2 tag: the PyPI sdist ships no tests). Two
# throwaway virtualenvs are built under WORK (default: a new folder in /tmp),
# each with Invenio-Previewer $PREVIEWER_VERSION (default 6.2.1) from PyPI and
# its test dependencies:
#
#   original  invenio-records-files $ORIGINAL_VERSION (default 4.0.1);
#   ext       this package instead, with every ``invenio_records_files``
#             import switched to ``invenio_records_files_ext``, in a copy of
#             the tests and in the venv's copy of Invenio-Previewer.
#
# Both run on each database named (default: both). PostgreSQL is a
# throwaway server (scripts/postgres.sh); SQLite a file in pytest-invenio's
# instance folder. The tests that render previews build the site's
# JavaScript with npm (pytest-invenio's webassets fixture); where the npm
# registry lacks a version they ask for, NPM_OVERRIDES pins another (see
# scripts/npm_overrides.py), the same on both sides. The script prints one line per test (outcome with the
# original, outcome with this package), then a summary per database, and
# exits with 1 if a test that passes with the original fails with this
# package. Nothing is written outside WORK (KEEP_WORK=1 keeps it afterwards;
# a later run with the same WORK reuses its virtualenvs and installs only
# this package again).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CHECKOUT=${1:?usage: $0 PREVIEWER_CHECKOUT [sqlite|postgresql ...]}
CHECKOUT=$(cd "$CHECKOUT" && pwd)
shift
DATABASES=("$@")
if [ ${#DATABASES[@]} -eq 0 ]; then
    DATABASES=(sqlite postgresql)
fi
PREVIEWER_VERSION=${PREVIEWER_VERSION:-6.2.1}
ORIGINAL_VERSION=${ORIGINAL_VERSION:-4.0.1}
PYTHON=${PYTHON:-python3}
WORK=${WORK:-$(mktemp -d /tmp/rfx-previewer.XXXXXX)}
mkdir -p "$WORK"

if [ ! -d "$CHECKOUT/tests" ]; then
    echo "No tests/ folder in $CHECKOUT" >&2
    exit 2
fi

PGDIR=""
cleanup() {
    if [ -n "$PGDIR" ]; then
        "$ROOT/scripts/postgres.sh" stop "$PGDIR" || true
    fi
    if [ "${KEEP_WORK:-}" != 1 ]; then
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

# Invenio-Previewer's test dependencies (its ``tests`` extra, without the
# style plugins and Sphinx, which check its own sources, not behaviour).
TEST_DEPS=(
    "invenio-previewer==$PREVIEWER_VERSION"
    "invenio-app>=3.0.0,<4.0.0"
    "invenio-config>=1.0.3"
    "invenio-db[postgresql,versioning]>=2.2.0,<3.0.0"
    "invenio-files-rest>=6.0.0,<7.0.0"
    "invenio-theme>=5.0.0,<6.0.0"
    "mock>=1.3.0"
    "pytest-invenio>=4.0.0,<5.0.0"
)

switch_imports() {
    # \b: ``invenio_records_files_ext`` is left alone (``_`` is a word character).
    # (Nothing left to switch, in a reused WORK folder, is fine.)
    { grep -rlE '\binvenio_records_files\b' "$@" 2>/dev/null || true; } |
        xargs -r sed -i -E 's/\binvenio_records_files\b/invenio_records_files_ext/g'
}

build() {
    local side=$1 venv="$WORK/$1/venv"
    echo "==> Building the '$side' virtualenv in $venv" >&2
    mkdir -p "$WORK/$side"
    # -qqq: errors only (not the index warnings of this machine's pip setup).
    local pip=("$venv/bin/python" -m pip install -qqq --disable-pip-version-check)
    local fresh=1
    if [ -x "$venv/bin/python" ]; then
        # A WORK folder kept from an earlier run: only this package is
        # installed again.
        fresh=0
    else
        "$PYTHON" -m venv "$venv"
    fi
    if [ "$side" = original ]; then
        if [ $fresh = 1 ]; then
            "${pip[@]}" "${TEST_DEPS[@]}" "invenio-records-files==$ORIGINAL_VERSION"
        fi
    else
        if [ $fresh = 1 ]; then
            "${pip[@]}" "${TEST_DEPS[@]}" "$ROOT[opensearch2]"
        else
            "${pip[@]}" "$ROOT[opensearch2]"
            "${pip[@]}" --force-reinstall --no-deps "$ROOT"
        fi
        if "$venv/bin/python" -c "import invenio_records_files" 2>/dev/null; then
            echo "The 'ext' virtualenv must not hold invenio-records-files" >&2
            exit 2
        fi
        local site
        site=$("$venv/bin/python" -c "import invenio_previewer, os; print(os.path.dirname(invenio_previewer.__file__))")
        switch_imports "$site"
    fi
    rm -rf "$WORK/$side/suite"
    mkdir -p "$WORK/$side/suite"
    cp -r "$CHECKOUT/tests" "$WORK/$side/suite/tests"
    # The checkout's own configuration adds style plugins and coverage.
    printf '[pytest]\ntestpaths = tests\npythonpath = .\naddopts = -p npm_overrides\n' \
        >"$WORK/$side/suite/pytest.ini"
    cp "$ROOT/scripts/npm_overrides.py" "$WORK/$side/suite/npm_overrides.py"
    if [ "$side" = ext ]; then
        switch_imports "$WORK/$side/suite/tests"
    fi
    "$venv/bin/python" -m pip freeze --disable-pip-version-check \
        | grep -iE '^(invenio-previewer|invenio-records-files|invenio-records-files-ext|invenio-files-rest|invenio-records|invenio-db|pytest-invenio|sqlalchemy)(==| @)' >&2 || true
}

run() {
    local side=$1 database=$2 uri=$3
    local suite="$WORK/$side/suite" report="$WORK/$side-$database.xml"
    echo "==> Running the '$side' suite on $database" >&2
    (
        cd "$suite"
        if [ -n "$uri" ]; then
            export SQLALCHEMY_DATABASE_URI="$uri"
        else
            unset SQLALCHEMY_DATABASE_URI
        fi
        "$WORK/$side/venv/bin/python" -m pytest -q -p no:cacheprovider \
            --junitxml="$report" >"$WORK/$side-$database.log" 2>&1 || true
    )
    tail -n 1 "$WORK/$side-$database.log" >&2
}

build original
build ext

status=0
for database in "${DATABASES[@]}"; do
    uri=""
    if [ "$database" = postgresql ]; then
        PGDIR=$(mktemp -d "$WORK/postgres.XXXXXX")
        port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        uri=$("$ROOT/scripts/postgres.sh" start "$PGDIR" "$port")
    elif [ "$database" != sqlite ]; then
        echo "Unknown database $database (sqlite or postgresql)" >&2
        exit 2
    fi
    run original "$database" "$uri"
    run ext "$database" "$uri"
    if [ -n "$PGDIR" ]; then
        "$ROOT/scripts/postgres.sh" stop "$PGDIR"
        PGDIR=""
    fi
    "$PYTHON" "$ROOT/scripts/compare_junit.py" "$database" \
        "$WORK/original-$database.xml" "$WORK/ext-$database.xml" || status=1
done
exit $status
