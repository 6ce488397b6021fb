#!/usr/bin/env bash
# The test command: installs everything the test suite needs into ./.venv, then runs pytest and the
# slow stages (Ray + PostgreSQL ingestion; real vLLM on CPU in its own ./.venv-vllm). Safe to run again:
# installs are idempotent. Extra arguments go to pytest alone (no stages).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch is pinned inside the extras (==2.13.0, the CPU build on these machines).
.venv/bin/python -m pip install -q -e ".[test,models,finetune,serve,studio,postgres,ray]"

# System packages some tests use, from Debian: Chromium for the web-chat test (a browser is never
# downloaded by a test tool) and a PostgreSQL server for the PostgreSQL store/threads test.
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
{ command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; } || need+=(postgresql)
if [ ${#need[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null) \
    || echo "could not install ${need[*]}: the tests that need them will be skipped"
fi

# The import contracts (layers, independent tools; pyproject.toml [tool.importlinter]).
.venv/bin/lint-imports --no-cache

# The default suite (pytest exits 5 when no test ran, which fails this script: set -e). With arguments,
# only pytest runs, with them: `bash scripts/test.sh tests/test_fields.py -x`.
.venv/bin/python -m pytest "$@"
[ $# -eq 0 ] || exit 0

# The slow stages, each its own pytest run of the suites marked out of the default one (pyproject addopts):
# ingestion on a real local Ray cluster into PostgreSQL, and real vLLM servers on CPU.
bash scripts/ci_stage_ray.sh
bash scripts/ci_stage_vllm.sh
