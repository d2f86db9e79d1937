#!/usr/bin/env bash
# The GPU check from a fresh checkout: a virtual environment with the package, then one table.
#   benchmarks/gpu_check.sh [--official PATH-TO-NVLABS-STYLEGAN3] [--dry-run]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-gpu/bin/python ]; then
  python3 -m venv .venv-gpu
  .venv-gpu/bin/pip install -q -e .
fi
exec .venv-gpu/bin/python -m benchmarks.gpu_check "$@"
