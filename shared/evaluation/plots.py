"""PNG plots of an :class:`~shared.evaluation.EvaluationReport` (matplotlib, Agg backend).

Examples:
    >>> import numpy as np, tempfile, os
    >>> from shared.evaluation import ReferenceKNNRouter, evaluate_routers
    >>> X = np.eye(4); Q = np.array([[1, 0], [0, 1], [1, 1], [1, 0.0]]); C = np.tile([1.0, 0.1], (4, 1))
    >>> r = ReferenceKNNRouter(k=1).fit(X, Q, C, models=["a", "b"])
    >>> report = evaluate_routers({"knn": r}, X, Q, C, ["a", "b"], dataset="toy")
    >>> with tempfile.TemporaryDirectory() as d:
    ...     plot_pareto(report, os.path.join(d, "p.png"))
    ...     os.path.getsize(os.path.join(d, "p.png")) > 0
    True
"""

from __future__ import annotations

import os
from typing import Any

from .report import EvaluationReport

__all__ = ["plot_learning_curves", "plot_pareto"]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_pareto(
    report: EvaluationReport, path: str | os.PathLike[str], *, title: str | None = None
) -> None:
    """Save the cost/quality plot: each router's points and frontier, single models, oracle.

    The cost axis is logarithmic (pool prices often span two orders of magnitude).
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10.5, 5.5), dpi=120)
    try:
        hull = report.hull.frontier
        ax.plot(hull[:, 0], hull[:, 1], "--", color="0.45", lw=1.2, label="single models' hull")
        for name, p in report.single.items():
            ax.scatter([p.cost], [p.quality], s=28, color="0.3", zorder=3)
            ax.annotate(
                name.split("/")[-1],
                (p.cost, p.quality),
                fontsize=7,
                color="0.25",
                xytext=(4, -3),
                textcoords="offset points",
            )
        cmap = plt.get_cmap("tab10")
        for k, (name, r) in enumerate(report.routers.items()):
            color = cmap(k % 10)
            ax.scatter(r.points[:, 0], r.points[:, 1], s=8, color=color, alpha=0.35)
            ax.plot(
                r.frontier[:, 0],
                r.frontier[:, 1],
                "-",
                color=color,
                lw=1.8,
                label=f"{name} (AIQ {r.aiq:.3f})",
            )
        ax.scatter(
            [report.oracle.cost],
            [report.oracle.quality],
            marker="*",
            s=140,
            color="gold",
            edgecolor="black",
            zorder=4,
            label=f"oracle ({report.oracle.quality:.3f})",
        )
        ax.axvline(report.c_best, color="0.7", lw=0.8, ls=":")
        ax.axhline(report.q_best, color="0.7", lw=0.8, ls=":")
        ax.set_xscale("log")
        xs = [p.cost for p in report.single.values()] + [report.oracle.cost]
        xs += [float(v) for r in report.routers.values() for v in r.points[:, 0]]
        lo, hi = min(x for x in xs if x > 0), max(xs)
        if hi <= lo * 1.2:  # (nearly) equal costs: give the log axis a visible range
            ax.set_xlim(lo / 1.5, hi * 1.5)
        ax.set_xlabel("mean cost per prompt (USD, log scale)")
        ax.set_ylabel("mean quality per prompt")
        ax.set_title(title or f"{report.dataset}: {report.n_test} test prompts")
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
        fig.tight_layout()
        fig.savefig(os.fspath(path))
    finally:
        plt.close(fig)


def plot_learning_curves(
    report: EvaluationReport, path: str | os.PathLike[str], *, title: str | None = None
) -> None:
    """Save test AIQ versus share of the training stream, for routers with a learning curve."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    try:
        for name, r in report.routers.items():
            if r.learning_curve:
                xs = [f for f, _ in r.learning_curve]
                ys = [v for _, v in r.learning_curve]
                ax.plot(xs, ys, "o-", label=name)
        ax.axhline(report.hull.aiq, color="0.45", ls="--", lw=1, label="single models' hull")
        ax.set_xlabel("share of the training stream seen")
        ax.set_ylabel("test AIQ")
        ax.set_title(title or f"{report.dataset}: learning from bandit feedback")
        ax.grid(True, alpha=0.25)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.fspath(path))
    finally:
        plt.close(fig)
