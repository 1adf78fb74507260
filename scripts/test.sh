#!/usr/bin/env bash
# Install what the tests need, then run linters, type checks and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# Install only when pyproject.toml changed since the last install (the package is installed
# editable, so changes to src/ need none): asking the index again costs 20 to 40 s of wall time.
STAMP=.venv/.test-installed
if [ ! -e "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[test]"
  touch "$STAMP"
fi

# Browser tests drive Debian's Chromium; install it where we may (root with apt).
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "installing Debian's chromium for the browser tests"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# One worker process per core (pytest-xdist): each has its own SQLite template and PostgreSQL
# database, so tests never share state. Work stealing: a worker that runs out of tests takes
# some from the other's queue, so one long test (the fuzz test, a browser test) does not leave a
# core idle at the end. The summary lists tests slower than 15 s without a reason
# (tests/slow_tests.py).
.venv/bin/python -m pytest -n auto --dist worksteal "$@"
