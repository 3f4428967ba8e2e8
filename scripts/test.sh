#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run every check: ruff, mypy (strict), the test suite and doctests.
# PostgreSQL tests run when PREFROUTE_TEST_POSTGRES_URL is set (see scripts/start-postgres.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck disable=SC1091
. .venv/bin/activate
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
# Small linear-algebra calls (ridge solves on a few hundred features) are faster on one BLAS thread,
# and tests stay deterministic and quick on a loaded machine.
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
echo "[test] ruff"
ruff check .
ruff format --check .
echo "[test] mypy --strict"
mypy shared langchain_router llamaindex_router
echo "[test] pytest"
python -m pytest tests --doctest-modules shared langchain_router llamaindex_router -q "$@"
