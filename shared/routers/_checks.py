"""Input checks shared by the routers of this package (one message format, typed errors)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._validation import check_embeddings
from ..exceptions import DataError, DimensionMismatchError, InvalidParameterError, UnknownModelError

FloatArray = NDArray[np.float64]

__all__ = [
    "check_bandit_log",
    "check_models",
    "check_outcomes",
    "check_width",
    "coerce_per_model",
    "is_alpha_grid",
    "is_layer_sizes",
    "model_index",
]


def check_models(models: Sequence[str], owner: str) -> list[str]:
    """Model names as a list of distinct, non-empty strings."""
    if isinstance(models, str) or not isinstance(models, Sequence):
        raise InvalidParameterError(f"{owner}: 'models' must be a sequence of model names.")
    names = list(models)
    if not names:
        raise InvalidParameterError(f"{owner}: at least one model is required.")
    for name in names:
        if not isinstance(name, str) or not name:
            raise InvalidParameterError(f"{owner}: model names must be non-empty strings.")
    if len(set(names)) != len(names):
        raise InvalidParameterError(f"{owner}: model names must be distinct, got {names}.")
    return names


def check_outcomes(
    quality: ArrayLike, cost: ArrayLike | None, n_samples: int, n_models: int, owner: str
) -> tuple[FloatArray, FloatArray]:
    """Quality and cost as ``(n, K)`` float matrices; NaN marks an unobserved cell.

    Raises:
        DataError: wrong shape, infinite values, quality outside [0, 1] or negative cost.
    """
    out = []
    for label, value in (("quality", quality), ("cost", cost)):
        if value is None:
            out.append(np.full((n_samples, n_models), np.nan))
            continue
        try:
            arr = np.array(value, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise DataError(f"{owner}: {label} must be numeric: {err}") from None
        if arr.ndim == 1 and n_models == 1:
            arr = arr[:, None]
        if arr.shape != (n_samples, n_models):
            raise DataError(
                f"{owner}: {label} must have shape (n_samples, n_models) = "
                f"({n_samples}, {n_models}), got {arr.shape}."
            )
        if np.isinf(arr).any():
            raise DataError(f"{owner}: {label} contains infinite values.")
        out.append(arr)
    Q, C = out
    with np.errstate(invalid="ignore"):
        if ((Q < 0) | (Q > 1)).any():
            raise DataError(f"{owner}: quality must be in [0, 1] (NaN = not observed).")
        if (C < 0).any():
            raise DataError(f"{owner}: cost must be >= 0 (NaN = not observed).")
    return Q, C


def check_bandit_log(
    X: ArrayLike,
    chosen: Sequence[str],
    quality: ArrayLike,
    cost: ArrayLike | None,
    propensity: ArrayLike,
    models: Sequence[str],
    owner: str,
) -> tuple[FloatArray, FloatArray, FloatArray, list[str]]:
    """A bandit log turned into full-width ``(X, Q, C, models)`` with NaN for unseen cells."""
    names = check_models(models, owner)
    Xc = check_embeddings(X, owner=owner)
    n = Xc.shape[0]
    chosen_list = list(chosen)
    if len(chosen_list) != n:
        raise DataError(f"{owner}: 'chosen' has {len(chosen_list)} entries for {n} prompts.")
    index = {m: j for j, m in enumerate(names)}
    cols = np.empty(n, dtype=np.intp)
    for i, name in enumerate(chosen_list):
        if name not in index:
            raise UnknownModelError(str(name), names)
        cols[i] = index[name]
    prop = np.asarray(propensity, dtype=np.float64).reshape(-1)
    if prop.shape != (n,) or not np.all((prop > 0) & (prop <= 1)):
        raise DataError(f"{owner}: 'propensity' must hold {n} values in (0, 1].")
    q = np.asarray(quality, dtype=np.float64).reshape(-1)
    c = np.full(n, np.nan) if cost is None else np.asarray(cost, dtype=np.float64).reshape(-1)
    if q.shape != (n,) or c.shape != (n,):
        raise DataError(f"{owner}: 'quality' and 'cost' must hold one value per prompt ({n}).")
    Q = np.full((n, len(names)), np.nan)
    C = np.full((n, len(names)), np.nan)
    Q[np.arange(n), cols] = q
    C[np.arange(n), cols] = c
    Qv, Cv = check_outcomes(Q, C, n, len(names), owner)
    return Xc, Qv, Cv, names


def coerce_per_model(value: Any, models: Sequence[str], default: float, label: str) -> FloatArray:
    """A per-model float vector from ``None``, a float, a sequence or a ``{model: value}`` map."""
    K = len(models)
    if value is None:
        return np.full(K, float(default))
    if isinstance(value, Mapping):
        unknown = sorted(set(map(str, value)) - set(models))
        if unknown:
            raise UnknownModelError(unknown[0], models)
        out = np.array([float(value.get(m, default)) for m in models])
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        out = np.full(K, float(value))
    else:
        out = np.asarray(value, dtype=np.float64).reshape(-1)
        if out.shape != (K,):
            raise InvalidParameterError(f"'{label}' must have one value per model ({K}).")
    if not np.all(np.isfinite(out)):
        raise InvalidParameterError(f"'{label}' must be finite.")
    return out


def model_index(models: Sequence[str], name: str) -> int:
    """Position of ``name`` in ``models``; :class:`UnknownModelError` if absent."""
    try:
        return list(models).index(name)
    except ValueError:
        raise UnknownModelError(name, models) from None


def check_width(n_features: int, expected: int, owner: str) -> None:
    """Raise :class:`DimensionMismatchError` when widths differ."""
    if n_features != expected:
        raise DimensionMismatchError(
            f"X has {n_features} features, but {owner} is expecting {expected} features as input."
        )


def is_alpha_grid(value: Any) -> bool:
    """a non-empty sequence of positive floats"""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return bool(arr.ndim == 1 and arr.size > 0 and np.all(np.isfinite(arr) & (arr > 0)))


def is_layer_sizes(value: Any) -> bool:
    """a non-empty tuple of positive ints"""
    return (
        isinstance(value, (tuple, list))
        and len(value) > 0
        and all(isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in value)
    )
