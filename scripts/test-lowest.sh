#!/usr/bin/env bash
# Run the tests that use LangChain (tests/langchain_router, the cross-adapter and serving tests,
# the README's quickstarts, langchain_router's doctests) on the lowest langchain-core that
# pyproject.toml accepts, beside the newest one scripts/test.sh uses.
#
# Needs .venv from scripts/setup.sh. pip resolves prefroute[dev] with langchain-core pinned to
# PREFROUTE_LOWEST_LANGCHAIN_CORE (default: the lower bound of pyproject.toml's
# "langchain-core>=X,<2", so the bound is what CI tests) against what .venv holds
# (--dry-run --report), and only the distributions it would change
# (langchain-core, and the langchain / langchain-openai releases that accept it) are installed,
# without touching .venv's own packages, into .venv/lowest/langchain-core-<version>/ (or
# $PREFROUTE_LOWEST_DIR/langchain-core-<version>/), which goes first on PYTHONPATH. Idempotent: a
# second run reuses that directory (delete it to resolve again).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
. .venv/bin/activate
LOWEST=${PREFROUTE_LOWEST_LANGCHAIN_CORE:-$(python -c '
import re, tomllib
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
(bound,) = [m.group(1) for d in deps if (m := re.fullmatch(r"langchain-core>=([\d.]+),<2", d))]
print(bound + ".0" * (2 - bound.count(".")))
')}
OVERLAY=$(realpath -m "${PREFROUTE_LOWEST_DIR:-.venv/lowest}/langchain-core-$LOWEST")
if [ ! -f "$OVERLAY/.complete" ]; then
    echo "[lowest] resolving prefroute[dev] with langchain-core==$LOWEST"
    report=$(mktemp)
    python -m pip install --quiet --dry-run --no-build-isolation --report "$report" \
        ".[dev]" "langchain-core==$LOWEST"
    mapfile -t PINS < <(python -c '
import json, sys
for item in json.load(open(sys.argv[1]))["install"]:
    meta = item["metadata"]
    if meta["name"] != "prefroute":
        print(meta["name"] + "==" + meta["version"])
' "$report")
    rm -f "$report"
    rm -rf "$OVERLAY"
    mkdir -p "$OVERLAY"
    if [ "${#PINS[@]}" -gt 0 ]; then  # none when .venv already has langchain-core $LOWEST
        echo "[lowest] installing ${PINS[*]} into $OVERLAY"
        python -m pip install --quiet --no-deps --target "$OVERLAY" "${PINS[@]}"
    fi
    touch "$OVERLAY/.complete"
fi
export PYTHONPATH="$OVERLAY:$PWD${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
python -c '
import sys
from importlib.metadata import version
import langchain_core
assert langchain_core.__version__ == version("langchain-core") == sys.argv[1], langchain_core.__file__
names = ("langchain-core", "langchain", "langchain-openai")
print("[lowest] pytest on " + ", ".join(n + " " + version(n) for n in names))
' "$LOWEST"
# every test module that imports LangChain, and langchain_router's doctests
python -m pytest tests/langchain_router tests/llamaindex_router/test_cross_plugin.py \
    tests/shared/test_serving.py tests/test_openai_server.py tests/test_readme.py \
    --doctest-modules langchain_router -q "$@"
