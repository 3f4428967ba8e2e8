"""Start-up time of ``prefroute --help``: the lazy parser against building every command's parser.

``prefroute --help`` imports only the command named on the line (none for ``--help``); building
the full parser imports every command module and plug-in (NumPy, SQLAlchemy, LangChain...), which
is what ``--help`` cost before. Each variant runs in a fresh interpreter, ``--runs`` times,
interleaved; the medians and their ratio are printed.

Usage::

    python benchmarks/cli_startup.py --runs 7
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

VARIANTS = {
    "prefroute --help (lazy)": "from shared.cli.main import main; main(['--help'])",
    "every command loaded": "from shared.cli.main import build_parser; build_parser().format_help()",
}


def _once(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per variant (default 7)")
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(args.runs):
        for name, code in VARIANTS.items():
            times[name].append(_once(code))
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    for name, ts in times.items():
        print(f"{name:<26} median {medians[name]:.2f} s  (min {min(ts):.2f}, max {max(ts):.2f})")
    lazy, full = medians.values()
    print(f"ratio full / lazy: {full / lazy:.1f}x")


if __name__ == "__main__":
    main()
