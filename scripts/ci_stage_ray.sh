#!/usr/bin/env bash
# CI stage: ingestion on a local Ray cluster into PostgreSQL (tests marked `ray`, outside the default run),
# against what the process pool writes into SQLite. Needs the ray and postgres extras and Debian's
# postgresql (scripts/test.sh installs them). Prints how long the stage took. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
status=0
.venv/bin/python -m pytest -m ray -rs "$@" || status=$?
echo "ci_stage_ray: $(( $(date +%s) - start )) s (pytest exit $status)"
exit "$status"
