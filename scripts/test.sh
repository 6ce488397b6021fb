#!/usr/bin/env bash
# The test command: installs everything the test suite needs into ./.venv, then runs pytest.
# Safe to run again: installs are idempotent. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch is pinned inside the extras (==2.13.0, the CPU build on these machines).
.venv/bin/python -m pip install -q -e ".[test,models,finetune,serve,studio]"

# The web-chat test drives Debian's Chromium; a browser is never downloaded by a test tool.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: the browser test will be skipped"
fi

# pytest exits 5 when no test ran, which fails this script (set -e).
exec .venv/bin/python -m pytest "$@"
