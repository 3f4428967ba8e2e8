"""Paired bootstrap comparison of two routers on the same test prompts.

A test split of a few hundred prompts measures AIQ with a noise of about ±0.01, so a difference
of 0.002 between two routers says little by itself. :func:`paired_bootstrap` resamples the test
prompts with replacement, recomputes both routers' sweep points, frontiers and metrics on each
resample (the single models, ``c_max`` and the best single model too), and reports the observed
differences with percentile intervals and the share of resamples in which the first router wins.
Both routers are judged on the same resampled prompts, so the prompt-to-prompt noise they share
cancels.

Inputs are sweep choices: ``(m, n)`` column indices, one row per preference setting, as in
:attr:`SweepResult.choices <shared.evaluation.SweepResult>` or the first element of
:func:`~shared.evaluation.route_sweep`. The single models' hull is the sweep
:func:`single_model_choices`.

Examples:
    >>> import numpy as np
    >>> Q = np.tile([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0]], (10, 1))
    >>> C = np.tile([1.0, 0.2], (40, 1))
    >>> oracle = np.tile([0, 1, 1, 0], 10)  # the best model per prompt, cheapest among ties
    >>> sweep = np.stack([oracle, np.ones(40, dtype=int)])  # then always the cheap model
    >>> res = paired_bootstrap(sweep, single_model_choices(2, 40), Q, C, random_state=0)
    >>> round(res.aiq_diff, 4), res.share_better
    (0.2, 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._validation import Interval, validate_params
from ..exceptions import DataError
from .metrics import aiq, anchored_aiq, best_single_index, frontier, quality_at_cost

__all__ = ["PairedBootstrap", "paired_bootstrap", "single_model_choices"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


@dataclass(frozen=True)
class PairedBootstrap:
    """Differences ``a - b`` of two routers' metrics, with bootstrap percentile intervals.

    Attributes:
        aiq_diff: observed AIQ of ``a`` minus AIQ of ``b``.
        aiq_interval: ``(low, high)`` percentile interval of the AIQ difference.
        q_at_cbest_diff: observed Q@Cbest difference.
        q_at_cbest_interval: its percentile interval.
        anchored_aiq_diff: observed anchored AIQ difference (each router's points together with
            the single models', :func:`~shared.evaluation.anchored_aiq`).
        anchored_aiq_interval: its percentile interval.
        share_better: share of resamples in which ``a``'s AIQ is strictly higher.
        n_resamples: number of bootstrap resamples.
        confidence: interval coverage (e.g. 0.95).
    """

    aiq_diff: float
    aiq_interval: tuple[float, float]
    q_at_cbest_diff: float
    q_at_cbest_interval: tuple[float, float]
    anchored_aiq_diff: float
    anchored_aiq_interval: tuple[float, float]
    share_better: float
    n_resamples: int
    confidence: float

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dictionary."""
        return {
            "aiq_diff": self.aiq_diff,
            "aiq_interval": list(self.aiq_interval),
            "q_at_cbest_diff": self.q_at_cbest_diff,
            "q_at_cbest_interval": list(self.q_at_cbest_interval),
            "anchored_aiq_diff": self.anchored_aiq_diff,
            "anchored_aiq_interval": list(self.anchored_aiq_interval),
            "share_better": self.share_better,
            "n_resamples": self.n_resamples,
            "confidence": self.confidence,
        }


def single_model_choices(n_models: int, n_prompts: int) -> IntArray:
    """The sweep of the single models: row ``k`` sends every prompt to model ``k``.

    Examples:
        >>> single_model_choices(2, 3).tolist()
        [[0, 0, 0], [1, 1, 1]]
    """
    return np.repeat(np.arange(n_models, dtype=np.intp)[:, None], n_prompts, axis=1)


def _check_choices(choices: ArrayLike, shape: tuple[int, int], name: str) -> IntArray:
    arr = np.asarray(choices)
    if arr.ndim != 2 or arr.shape[1] != shape[0] or arr.shape[0] == 0:
        raise DataError(f"{name} must be an (m, {shape[0]}) array of column indices: {arr.shape}.")
    if not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0 or arr.max() >= shape[1]:
        raise DataError(f"{name} must hold model column indices in [0, {shape[1]}).")
    return arr.astype(np.intp)


def _metrics(
    counts: FloatArray, sweeps: list[tuple[FloatArray, FloatArray]], C: FloatArray, Q: FloatArray
) -> list[tuple[float, float, float]]:
    """AIQ, Q@Cbest and anchored AIQ of each sweep on one resample given by per-prompt ``counts``.

    The single models (hence ``c_max`` and the best single model's cost) are computed once per
    resample and shared by the sweeps.
    """
    n = counts.sum()
    single = np.column_stack([counts @ C, counts @ Q]) / n
    c_max, c_best = float(single[:, 0].max()), float(single[best_single_index(single), 0])
    out = []
    for Cs, Qs in sweeps:
        pts = np.column_stack([Cs @ counts, Qs @ counts]) / n
        front = frontier(pts)
        out.append(
            (aiq(front, c_max), quality_at_cost(front, c_best), anchored_aiq(pts, single, c_max))
        )
    return out


def paired_bootstrap(
    choices_a: ArrayLike,
    choices_b: ArrayLike,
    quality: ArrayLike,
    cost: ArrayLike,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    random_state: int | None = None,
) -> PairedBootstrap:
    """Compare two routers' sweeps on the same test prompts by a paired bootstrap.

    Args:
        choices_a: ``(m_a, n)`` chosen column per sweep setting and prompt for router ``a``.
        choices_b: ``(m_b, n)`` the same for router ``b``.
        quality: ``(n, K)`` true quality, every cell observed.
        cost: ``(n, K)`` true cost.
        n_resamples: bootstrap resamples (>= 100).
        confidence: coverage of the percentile intervals, in (0, 1).
        random_state: seed of the resampling.

    Returns:
        :class:`PairedBootstrap` with differences ``a - b``.

    Raises:
        DataError: shapes disagree, choices are not valid columns, or an outcome is missing.
        InvalidParameterError: ``n_resamples`` or ``confidence`` is out of range.
    """
    validate_params(
        "paired_bootstrap",
        {"n_resamples": n_resamples, "confidence": confidence},
        {
            "n_resamples": [Interval(int, 100, None)],
            "confidence": [Interval(float, 0.0, 1.0, closed="neither")],
        },
    )
    Q = np.asarray(quality, dtype=np.float64)
    C = np.asarray(cost, dtype=np.float64)
    if Q.ndim != 2 or Q.shape != C.shape or Q.shape[0] == 0:
        raise DataError(f"quality and cost must be equal (n, K) arrays: {Q.shape}, {C.shape}.")
    if not (np.isfinite(Q).all() and np.isfinite(C).all()):
        raise DataError("The bootstrap needs every model observed on every prompt (no NaN).")
    A = _check_choices(choices_a, Q.shape, "choices_a")
    B = _check_choices(choices_b, Q.shape, "choices_b")
    rows = np.arange(Q.shape[0])
    sweeps = [(C[rows, A], Q[rows, A]), (C[rows, B], Q[rows, B])]
    ones = np.ones(Q.shape[0])
    observed = _metrics(ones, sweeps, C, Q)
    rng = np.random.default_rng(random_state)
    diffs = np.empty((n_resamples, 3))
    for r in range(n_resamples):
        counts = np.bincount(rng.integers(0, Q.shape[0], Q.shape[0]), minlength=Q.shape[0])
        a, b = _metrics(counts.astype(float), sweeps, C, Q)
        diffs[r] = np.subtract(a, b)
    tail = 100.0 * (1.0 - confidence) / 2.0
    lo, hi = np.percentile(diffs, [tail, 100.0 - tail], axis=0)
    return PairedBootstrap(
        aiq_diff=observed[0][0] - observed[1][0],
        aiq_interval=(float(lo[0]), float(hi[0])),
        q_at_cbest_diff=observed[0][1] - observed[1][1],
        q_at_cbest_interval=(float(lo[1]), float(hi[1])),
        anchored_aiq_diff=observed[0][2] - observed[1][2],
        anchored_aiq_interval=(float(lo[2]), float(hi[2])),
        share_better=float(np.mean(diffs[:, 0] > 0)),
        n_resamples=n_resamples,
        confidence=confidence,
    )
