#!/usr/bin/env sh
# The 32B GPTQ-Int8 answer model with prefix caching and a 0.5B draft model (port 8002 unless --port).
set -eu
cd "$(dirname "$0")/../.."
exec python -m serving.vllm.launch answer --exec "$@"
