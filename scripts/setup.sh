#!/usr/bin/env bash
# Set up a development environment in .venv: CPU-only PyTorch first (an unpinned torch pulls
# several GB of CUDA packages), then prefroute in editable mode with its test and lint tools.
# Idempotent: a second run only checks that everything is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${PREFROUTE_TORCH_SPEC:-torch==2.13.0}
# Extra pip options for the torch install. On a machine whose index serves the CUDA build under
# that pin (PyPI on Linux does), get the CPU build from PyTorch's CPU wheel index:
#   PREFROUTE_TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu" bash scripts/setup.sh
TORCH_PIP_ARGS=${PREFROUTE_TORCH_PIP_ARGS:-}

if [ ! -x .venv/bin/python ]; then
    echo "[setup] creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
if ! python -c "import torch" 2>/dev/null; then
    echo "[setup] installing $TORCH_SPEC ${TORCH_PIP_ARGS:+($TORCH_PIP_ARGS)}"
    # shellcheck disable=SC2086 # the options are meant to split into words
    python -m pip install --quiet $TORCH_PIP_ARGS "$TORCH_SPEC"
fi
echo "[setup] installing prefroute[dev]"
python -m pip install --quiet -e ".[dev]"
echo "[setup] done: activate with '. .venv/bin/activate'"
