"""PNG plots of an :class:`~shared.evaluation.EvaluationReport` (matplotlib, Agg backend).

The plots draw what the metrics compute: a frontier is the piecewise-linear interpolation *in
cost* between its vertices, flat beyond its ends (:func:`~shared.evaluation.aiq`,
:func:`~shared.evaluation.quality_at_cost`); on the logarithmic cost axis that curve is drawn
densely, so it bends as the numbers do instead of joining the vertices by straight segments.
Every legend entry of a frontier carries its AIQ. A command writing more than one plot names the
extra ones with :func:`extra_plot_path` (``OUT.png`` -> ``OUT.learning.png``).

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
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .report import EvaluationReport

__all__ = ["extra_plot_path", "frontier_curve", "plot_learning_curves", "plot_pareto"]


def extra_plot_path(path: str | os.PathLike[str], kind: str) -> Path:
    """The file of an extra plot beside ``path``: ``OUT.png`` -> ``OUT.<kind>.png``.

    Examples:
        >>> extra_plot_path("out/demo.png", "learning").as_posix()
        'out/demo.learning.png'
    """
    p = Path(path)
    return p.with_name(f"{p.stem}.{kind}{p.suffix or '.png'}")


def frontier_curve(
    front: NDArray[np.float64], low: float, high: float, n: int = 400
) -> NDArray[np.float64]:
    """Points of a frontier between costs ``low`` and ``high`` (> 0), as the metrics interpolate
    it: linear in cost between vertices, flat beyond the ends, sampled densely on a log grid
    (vertices included) so it plots faithfully on a log cost axis.

    Examples:
        >>> curve = frontier_curve(np.array([[1.0, 0.0], [3.0, 1.0]]), 0.5, 4.0, n=8)
        >>> float(np.interp(2.0, curve[:, 0], curve[:, 1]))
        0.5
        >>> curve[0].tolist(), curve[-1].tolist()
        ([0.5, 0.0], [4.0, 1.0])
    """
    f = np.asarray(front, dtype=np.float64)
    xs = np.geomspace(low, high, n)
    inside = f[(f[:, 0] > low) & (f[:, 0] < high), 0]
    xs = np.unique(np.concatenate([xs, inside]))
    return np.column_stack([xs, np.interp(xs, f[:, 0], f[:, 1])])


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_pareto(
    report: EvaluationReport, path: str | os.PathLike[str], *, title: str | None = None
) -> None:
    """Save the cost/quality plot: each router's points and frontier, single models, oracle.

    The cost axis is logarithmic (pool prices often span two orders of magnitude); frontiers are
    drawn as :func:`frontier_curve` computes them, their AIQ in the legend. The dotted vertical
    line is the priciest single model's cost, where AIQ's integral stops; the dotted horizontal
    line the best single model's quality.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10.5, 5.5), dpi=120)
    try:
        xs = [p.cost for p in report.single.values()] + [report.oracle.cost]
        xs += [float(v) for r in report.routers.values() for v in r.points[:, 0]]
        positive = [x for x in xs if x > 0]
        lo = min(positive) if positive else 1e-6
        hi = max(max(xs), report.c_max, lo)
        if hi <= lo * 1.2:  # (nearly) equal costs: give the log axis a visible range
            lo, hi = lo / 1.5, hi * 1.5
        else:
            lo, hi = lo / 1.25, hi * 1.25
        hull = frontier_curve(report.hull.frontier, lo, hi)
        ax.plot(
            hull[:, 0],
            hull[:, 1],
            "--",
            color="0.45",
            lw=1.2,
            label=f"single models' hull (AIQ {report.hull.aiq:.3f})",
        )
        for name, p in report.single.items():
            ax.scatter([max(p.cost, lo)], [p.quality], s=28, color="0.3", zorder=3)
            ax.annotate(
                name.split("/")[-1],
                (max(p.cost, lo), p.quality),
                fontsize=7,
                color="0.25",
                xytext=(4, -3),
                textcoords="offset points",
            )
        cmap = plt.get_cmap("tab10")
        for k, (name, r) in enumerate(report.routers.items()):
            color = cmap(k % 10)
            pts = r.points[r.points[:, 0] > 0]
            ax.scatter(pts[:, 0], pts[:, 1], s=8, color=color, alpha=0.35)
            curve = frontier_curve(r.frontier, lo, hi)
            ax.plot(curve[:, 0], curve[:, 1], "-", color=color, lw=1.8,
                    label=f"{name} (AIQ {r.aiq:.3f})")  # fmt: skip
        ax.scatter(
            [max(report.oracle.cost, lo)],
            [report.oracle.quality],
            marker="*",
            s=140,
            color="gold",
            edgecolor="black",
            zorder=4,
            label=f"oracle (quality {report.oracle.quality:.3f})",
        )
        ax.axvline(
            report.c_max, color="0.6", lw=0.8, ls=":", label="AIQ range ends (priciest model)"
        )
        ax.axhline(report.q_best, color="0.7", lw=0.8, ls=":")
        ax.set_xscale("log")
        ax.set_xlim(lo, hi)
        ax.set_xlabel(
            "mean cost per prompt (USD, log scale; frontiers interpolated in linear cost)"
        )
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
    """Save test AIQ versus share of the training stream, for routers with a learning curve,
    with the single models' hull AIQ as the line to beat."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    try:
        for name, r in report.routers.items():
            if r.learning_curve:
                xs = [f for f, _ in r.learning_curve]
                ys = [v for _, v in r.learning_curve]
                ax.plot(xs, ys, "o-", label=f"{name} (final AIQ {ys[-1]:.3f})")
        ax.axhline(
            report.hull.aiq,
            color="0.45",
            ls="--",
            lw=1,
            label=f"single models' hull (AIQ {report.hull.aiq:.3f})",
        )
        ax.set_xlabel("share of the training stream seen")
        ax.set_ylabel("test AIQ")
        ax.set_title(title or f"{report.dataset}: learning from bandit feedback")
        ax.grid(True, alpha=0.25)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.fspath(path))
    finally:
        plt.close(fig)
