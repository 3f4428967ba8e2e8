#!/usr/bin/env bash
# Set up a development environment in .venv: CPU-only PyTorch first (an unpinned torch pulls
# several GB of CUDA packages), then prefroute in editable mode with its test and lint tools.
# Idempotent: a second run only checks that everything is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${PREFROUTE_TORCH_SPEC:-torch==2.13.0}

if [ ! -x .venv/bin/python ]; then
    echo "[setup] creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
if ! python -c "import torch" 2>/dev/null; then
    echo "[setup] installing $TORCH_SPEC (CPU build)"
    python -m pip install --quiet "$TORCH_SPEC"
fi
echo "[setup] installing prefroute[dev]"
python -m pip install --quiet -e ".[dev]"
echo "[setup] done: activate with '. .venv/bin/activate'"
