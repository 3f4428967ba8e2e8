"""Off-policy estimators for learning from a bandit log: importance weights and doubly robust outcomes.

A bandit log reveals, for each prompt ``i``, the outcome ``y_i`` of one model ``a_i`` chosen by a
logging policy with probability ``p_i`` (the propensity). Two ways to learn about every other
model from it, with variance control:

* :func:`importance_weights` re-weights logged outcomes by ``pi(a_i | x_i) / p_i`` for a target
  policy ``pi``: clipped at ``max_weight`` (bias for variance), and/or self-normalized so that the
  weights average to one (SNIPS: the estimate stays in the range of the outcomes);
* :func:`doubly_robust_outcomes` fills the whole ``(n, K)`` outcome matrix from a reward model
  ``y_hat`` and corrects the logged cell by the importance-weighted residual,
  ``y_hat[i, k] + 1[k = a_i] (y_i - y_hat[i, a_i]) / p_i``. Its mean over the log is an unbiased
  estimate of each model's mean outcome whatever the reward model (exactly so without clipping),
  and its variance is that of the residuals, not of the outcomes.

Pessimism is applied by the caller: subtract a multiple of the reward model's uncertainty, so
that models logged rarely (wide confidence) are not chosen on optimistic noise.

Examples:
    >>> import numpy as np
    >>> importance_weights([0.5, 0.5, 0.5], [0.25, 0.5, 0.5], self_normalize=True).tolist()
    [1.5, 0.75, 0.75]
    >>> Y = doubly_robust_outcomes(np.zeros((2, 2)), [0, 1], [1.0, 0.5], [0.5, 0.25])
    >>> Y.tolist()
    [[2.0, 0.0], [0.0, 2.0]]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..exceptions import DataError

FloatArray = NDArray[np.float64]

__all__ = ["doubly_robust_outcomes", "importance_weights"]


def _propensities(propensity: ArrayLike, n: int) -> FloatArray:
    p = np.asarray(propensity, dtype=np.float64).ravel()
    if p.shape[0] != n:
        raise DataError(f"propensity has {p.shape[0]} entries for {n} logged rows.")
    if not (np.isfinite(p).all() and (p > 0).all() and (p <= 1).all()):
        raise DataError("Propensities must lie in (0, 1].")
    return p


def importance_weights(
    target: ArrayLike,
    propensity: ArrayLike,
    *,
    max_weight: float | None = None,
    self_normalize: bool = False,
) -> FloatArray:
    """Importance weights ``target / propensity`` of logged actions.

    Args:
        target: ``(n,)`` probability of the logged action under the policy being evaluated or
            trained (1 for a deterministic policy that agrees with the log, 0 if it disagrees).
        propensity: ``(n,)`` probability with which the logging policy chose it, in (0, 1].
        max_weight: clip each weight at this value (``None``: no clipping).
        self_normalize: divide by the mean weight (SNIPS), so that the weights sum to ``n``.

    Raises:
        DataError: shapes disagree, a propensity is outside (0, 1] or a target probability
            outside [0, 1].

    Examples:
        >>> importance_weights([1.0, 1.0], [0.1, 0.5], max_weight=4.0).tolist()
        [4.0, 2.0]
    """
    t = np.asarray(target, dtype=np.float64).ravel()
    p = _propensities(propensity, t.shape[0])
    if not (np.isfinite(t).all() and (t >= 0).all() and (t <= 1).all()):
        raise DataError("Target probabilities must lie in [0, 1].")
    w = t / p
    if max_weight is not None:
        w = np.minimum(w, float(max_weight))
    if self_normalize:
        total = float(w.mean()) if w.size else 0.0
        w = w / total if total > 0 else np.ones_like(w)
    return np.asarray(w, dtype=np.float64)


def doubly_robust_outcomes(
    predicted: ArrayLike,
    arms: ArrayLike,
    observed: ArrayLike,
    propensity: ArrayLike,
    *,
    max_weight: float | None = None,
) -> FloatArray:
    """Doubly robust pseudo-outcomes of every model on every logged prompt.

    ``Y[i, k] = predicted[i, k] + 1[k = arms[i]] * w_i * (observed[i] - predicted[i, arms[i]])``
    with ``w_i = 1 / propensity[i]`` (clipped at ``max_weight``). Averaging ``Y[:, k]`` estimates
    model ``k``'s mean outcome; averaging ``(pi * Y).sum(1)`` estimates a policy ``pi``'s value.

    Args:
        predicted: ``(n, K)`` reward-model predictions (the direct method).
        arms: ``(n,)`` column index of the logged model.
        observed: ``(n,)`` its revealed outcome.
        propensity: ``(n,)`` its logging probability, in (0, 1].
        max_weight: clip of ``1 / propensity`` (``None``: unbiased, no clipping).

    Raises:
        DataError: shapes disagree, an arm is out of range or a propensity outside (0, 1].

    Examples:
        >>> doubly_robust_outcomes([[0.5, 0.5]], [1], [1.0], [0.5], max_weight=1.5).tolist()
        [[0.5, 1.25]]
    """
    Y = np.array(predicted, dtype=np.float64)
    if Y.ndim != 2:
        raise DataError(f"predicted must be an (n, K) array, got shape {Y.shape}.")
    n, K = Y.shape
    a = np.asarray(arms).ravel()
    y = np.asarray(observed, dtype=np.float64).ravel()
    if a.shape[0] != n or y.shape[0] != n:
        raise DataError(f"arms and observed need {n} entries: {a.shape[0]}, {y.shape[0]}.")
    if n and (not np.issubdtype(a.dtype, np.integer) or a.min() < 0 or a.max() >= K):
        raise DataError(f"arms must be column indices in [0, {K}).")
    w = importance_weights(np.ones(n), propensity, max_weight=max_weight)
    rows = np.arange(n)
    Y[rows, a] += w * (y - Y[rows, a])
    return Y
