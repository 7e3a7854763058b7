#!/usr/bin/env bash
# Install the package with the demo's dependencies and serve the demo.
#
#   ./run-demo.sh            # http://127.0.0.1:5000/ (the deposit page)
#   PORT=8000 ./run-demo.sh
#
# SQLite in instance/demo.db and files in instance/files, unless
# SQLALCHEMY_DATABASE_URI and FILES_STORAGE_PATH are set.
set -euo pipefail
cd "$(dirname "$0")"

VENV=${VENV:-.venv}
PORT=${PORT:-5000}

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[demo]"

echo "Demo: http://127.0.0.1:${PORT}/ (the deposit page; REST API under /records/; every permission is open: demo only)"
exec "$VENV/bin/gunicorn" --workers 2 --bind "127.0.0.1:${PORT}" \
    --access-logfile - "examples.app:create_app()"
