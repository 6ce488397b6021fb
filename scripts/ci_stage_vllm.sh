#!/usr/bin/env bash
# CI stage: real vLLM on CPU (tests marked `vllm_cpu`, outside the default run). Creates .venv-vllm if it is
# missing (scripts/vllm_cpu_env.sh), builds the tiny models (python -m finetune.tiny), then starts both
# servers of serving/vllm/servers.toml through their launch scripts and runs the agent against them
# (tests/test_vllm_cpu.py). Needs the project's .venv (scripts/test.sh) with the finetune and serve extras.
# Prints the stage's duration, its peak memory and the figures the tests measured. Extra arguments go to pytest.
# NIANBAO_VLLM_WORK (default .nianbao-ci/vllm) keeps the tiny models and the servers' logs. On a GPU machine:
#     NIANBAO_VLLM_PLAN=serving/vllm/gpu.toml NIANBAO_VLLM_VENV=.venv scripts/ci_stage_vllm.sh
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
work=${NIANBAO_VLLM_WORK:-.nianbao-ci/vllm}
mkdir -p "$work/logs"
work=$(cd "$work" && pwd)

# Peak memory of the machine during the stage, above what was in use when it began (every process the
# stage starts: the servers' engine and worker processes included). MemTotal - MemAvailable, each second.
used() { awk '/^MemTotal/ {t=$2} /^MemAvailable/ {a=$2} END {print t - a}' /proc/meminfo; }
baseline=$(used)
echo "$baseline" > "$work/peak_kib"
( while sleep 1; do u=$(used); [ "$u" -gt "$(cat "$work/peak_kib")" ] && echo "$u" > "$work/peak_kib"; done ) &
sampler=$!

cleanup() {
  kill "$sampler" 2>/dev/null || true
  # Servers a killed pytest could not stop: their process groups, recorded by serving/vllm/harness.py.
  for f in "$work"/logs/vllm-*.pgid; do
    [ -e "$f" ] && kill -KILL -- "-$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
}
trap cleanup EXIT

t=$(date +%s)
# NIANBAO_VLLM_VENV names a venv that already has vLLM (a GPU machine's, with NIANBAO_VLLM_PLAN=serving/vllm/gpu.toml).
[ -n "${NIANBAO_VLLM_VENV:-}" ] || scripts/vllm_cpu_env.sh
venv_s=$(( $(date +%s) - t ))

t=$(date +%s)
.venv/bin/python -m finetune.tiny "$work/tiny" > "$work/tiny.json" \
  || { echo "ci_stage_vllm: building the tiny models failed after $(( $(date +%s) - start )) s"; exit 1; }
models_s=$(( $(date +%s) - t ))

t=$(date +%s)
status=0
NIANBAO_VLLM_TINY="$work/tiny" NIANBAO_VLLM_LOGS="$work/logs" \
  .venv/bin/python -m pytest -m vllm_cpu -rs -p no:cacheprovider tests/test_vllm_cpu.py "$@" || status=$?
tests_s=$(( $(date +%s) - t ))

kill "$sampler" 2>/dev/null || true
peak_mib=$(( ($(cat "$work/peak_kib") - baseline) / 1024 ))
if [ -f "$work/logs/figures.json" ]; then
  .venv/bin/python - "$work/logs/figures.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
print("vLLM CPU figures:", json.dumps({k: v for k, v in f.items() if k not in ("tiny_models", "bench_load")}, indent=1))
if "bench_load" in f:
    print(f["bench_load"]["table"])
PY
fi
echo "ci_stage_vllm: $(( $(date +%s) - start )) s (venv ${venv_s} s, tiny models ${models_s} s, tests ${tests_s} s)," \
     "peak memory +${peak_mib} MiB (pytest exit $status); logs in $work/logs"
exit "$status"
