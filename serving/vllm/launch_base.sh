#!/usr/bin/env sh
# The 7B base with the intent, nl2sql and keywords LoRA adapters (port 8001 unless --port is given).
# Weights are read from $NIANBAO_VLLM_MODELS and $NIANBAO_VLLM_ADAPTERS; nothing is downloaded.
set -eu
cd "$(dirname "$0")/../.."
exec python -m serving.vllm.launch base --exec "$@"
