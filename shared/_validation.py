"""The one validation module: parameter constraints and every data check, with typed errors.

Every router, table, bandit log and store goes through these functions, so one malformed input
gives one error type and one message whichever router receives it:

* bad constructor parameters -> :class:`~shared.InvalidParameterError` (:func:`validate_params`);
* bad model-name lists -> :class:`~shared.InvalidParameterError` (:func:`check_models`);
* embeddings that are not a finite 2-D array -> :class:`~shared.DataError`, of the wrong width ->
  :class:`~shared.DimensionMismatchError` (:func:`check_embeddings`);
* outcomes (quality outside [0, 1], negative or infinite cost or latency, wrong shape, a
  propensity outside (0, 1]) -> :class:`~shared.DataError` (:func:`check_outcome_arrays`,
  :func:`check_propensity`);
* task keys that are not short non-empty strings -> :class:`~shared.InvalidParameterError`
  (:func:`check_task`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .exceptions import DataError, DimensionMismatchError, InvalidParameterError, UnknownModelError

__all__ = [
    "Interval",
    "Options",
    "check_embeddings",
    "check_models",
    "check_n_features",
    "check_outcome_arrays",
    "check_propensity",
    "check_table",
    "check_task",
    "check_tasks",
    "check_update",
    "check_width",
    "coerce_per_model",
    "is_alpha_grid",
    "is_layer_sizes",
    "model_index",
    "validate_params",
]

FloatArray = NDArray[np.float64]

#: Longest task key accepted (characters): a chain, node or template name, not a prompt.
MAX_TASK_LENGTH = 200


@dataclass(frozen=True)
class Interval:
    """A numeric range; ``kind`` is ``int`` or ``float``; ``None`` bounds are open-ended."""

    kind: type
    low: float | None
    high: float | None
    closed: str = "both"  # "both", "left", "right", "neither"

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool):
            return False
        if self.kind is int and not isinstance(value, Integral):
            return False
        if not isinstance(value, Real) or (isinstance(value, float) and math.isnan(value)):
            return False
        v = float(value)
        lo_ok = self.low is None or (
            v >= self.low if self.closed in ("both", "left") else v > self.low
        )
        hi_ok = self.high is None or (
            v <= self.high if self.closed in ("both", "right") else v < self.high
        )
        return bool(lo_ok and hi_ok)

    def describe(self) -> str:
        name = "an int" if self.kind is int else "a float"
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        return f"{name} in the range {left}{lo}, {hi}{right}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values."""

    values: Collection[Any]

    def accepts(self, value: Any) -> bool:
        return value in self.values

    def describe(self) -> str:
        return "one of " + ", ".join(repr(v) for v in sorted(self.values, key=str))


Constraint = Interval | Options | type | None | str | Callable[[Any], bool]


def _accepts(constraint: Constraint, value: Any) -> bool:
    if constraint is None:
        return value is None
    if isinstance(constraint, (Interval, Options)):
        return constraint.accepts(value)
    if constraint == "boolean":
        return isinstance(value, (bool, np.bool_))
    if constraint == "random_state":
        return value is None or (isinstance(value, Integral) and not isinstance(value, bool))
    if isinstance(constraint, type):
        return isinstance(value, constraint)
    if callable(constraint):
        return bool(constraint(value))
    raise TypeError(f"Unknown constraint {constraint!r}")


def _describe(constraint: Constraint) -> str:
    if constraint is None:
        return "None"
    if isinstance(constraint, (Interval, Options)):
        return constraint.describe()
    if constraint == "boolean":
        return "a bool"
    if constraint == "random_state":
        return "an int seed or None"
    if isinstance(constraint, type):
        return f"an instance of {constraint.__name__}"
    return getattr(constraint, "__doc__", None) or "a valid value"


def validate_params(
    owner: str, params: Mapping[str, Any], constraints: Mapping[str, Sequence[Constraint]]
) -> None:
    """Raise :class:`InvalidParameterError` for the first parameter that meets no constraint.

    Examples:
        >>> validate_params("RidgeRouter", {"alpha": -1.0},
        ...                 {"alpha": [Interval(float, 0, None, closed="left")]})
        Traceback (most recent call last):
        ...
        shared.exceptions.InvalidParameterError: The 'alpha' parameter of RidgeRouter must be a float in the range [0, inf). Got -1.0 instead.
    """
    for name, allowed in constraints.items():
        if name not in params:
            continue
        value = params[name]
        if any(_accepts(c, value) for c in allowed):
            continue
        choices = [_describe(c) for c in allowed]
        text = choices[0] if len(choices) == 1 else ", ".join(choices[:-1]) + " or " + choices[-1]
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be {text}. Got {value!r} instead."
        )


def check_embeddings(
    X: ArrayLike, *, n_features: int | None = None, owner: str = "router", allow_1d: bool = False
) -> NDArray[np.float64]:
    """Return ``X`` as a finite float64 matrix ``(n_samples, n_features)``.

    Raises:
        DataError: not 2-D (or 1-D when ``allow_1d``), empty, or non-finite values.
        DimensionMismatchError: width differs from ``n_features``.
    """
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise DataError(f"Embeddings for {owner} must be numeric: {err}") from None
    if arr.ndim == 1 and allow_1d:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise DataError(f"Embeddings for {owner} must be a 2-D array, got shape {arr.shape}.")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DataError(f"Embeddings for {owner} are empty (shape {arr.shape}).")
    if not np.all(np.isfinite(arr)):
        raise DataError(f"Embeddings for {owner} contain NaN or infinite values.")
    if n_features is not None and arr.shape[1] != n_features:
        raise DimensionMismatchError(
            f"X has {arr.shape[1]} features, but {owner} is expecting {n_features} features "
            "as input (was the prompt encoder changed after fitting?)."
        )
    return arr


def check_width(n_features: int, expected: int, owner: str) -> None:
    """Raise :class:`DimensionMismatchError` when widths differ."""
    if n_features != expected:
        raise DimensionMismatchError(
            f"X has {n_features} features, but {owner} is expecting {expected} features as input."
        )


def check_n_features(n_features: Any, owner: str) -> int:
    """A positive int embedding width (for cold starts), else :class:`InvalidParameterError`."""
    if isinstance(n_features, bool) or not isinstance(n_features, Integral) or n_features < 1:
        raise InvalidParameterError(
            f"{owner}: 'n_features' must be a positive int, got {n_features!r}."
        )
    return int(n_features)


def check_models(models: Any, owner: str) -> list[str]:
    """Model names as a list of distinct, non-empty strings.

    Examples:
        >>> check_models(["a", "a"], "RidgeRouter")
        Traceback (most recent call last):
        ...
        shared.exceptions.InvalidParameterError: RidgeRouter: model names must be distinct, got ['a', 'a'].
    """
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


def model_index(models: Sequence[str], name: str) -> int:
    """Position of ``name`` in ``models``; :class:`UnknownModelError` if absent."""
    try:
        return list(models).index(name)
    except ValueError:
        raise UnknownModelError(name, models) from None


def _as_float(value: ArrayLike, label: str, owner: str) -> FloatArray:
    try:
        return np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise DataError(f"{owner}: {label} must be numeric: {err}") from None


def check_outcome_arrays(
    quality: ArrayLike,
    cost: ArrayLike | None,
    latency: ArrayLike | None,
    shape: tuple[int, ...],
    owner: str,
    *,
    quality_nan: bool = True,
) -> tuple[FloatArray, FloatArray, FloatArray | None]:
    """Quality, cost and latency as float arrays of ``shape``; NaN marks an unobserved value.

    ``shape`` is ``(n_samples, n_models)`` for a table, ``(n_samples,)`` for a log (one observed
    model per row). A ``None`` cost becomes all-NaN (unknown); a ``None`` latency stays ``None``.
    A 1-D array is accepted for a one-model table.

    Raises:
        DataError: wrong shape, non-numeric or infinite values, quality outside [0, 1] (or NaN
            when ``quality_nan`` is false), negative cost or latency.

    Examples:
        >>> check_outcome_arrays([[0.5, 2.0]], None, None, (1, 2), "KNNRouter")
        Traceback (most recent call last):
        ...
        shared.exceptions.DataError: KNNRouter: quality must be in [0, 1] (NaN = not observed).
    """
    out: list[FloatArray | None] = []
    for label, value in (("quality", quality), ("cost", cost), ("latency", latency)):
        if value is None:
            out.append(None if label == "latency" else np.full(shape, np.nan))
            continue
        arr = _as_float(value, label, owner)
        if len(shape) == 2 and shape[1] == 1 and arr.ndim == 1:
            arr = arr[:, None]
        if arr.shape != shape:
            what = "(n_samples, n_models)" if len(shape) == 2 else "(n_samples,)"
            raise DataError(f"{owner}: {label} must have shape {what} = {shape}, got {arr.shape}.")
        if np.isinf(arr).any():
            raise DataError(f"{owner}: {label} contains infinite values.")
        with np.errstate(invalid="ignore"):
            if label == "quality" and ((arr < 0) | (arr > 1)).any():
                raise DataError(f"{owner}: quality must be in [0, 1] (NaN = not observed).")
            if label != "quality" and (arr < 0).any():
                raise DataError(f"{owner}: {label} must be >= 0 (NaN = not observed).")
        out.append(arr)
    Q, C, L = out
    assert Q is not None and C is not None
    if not quality_nan and np.isnan(Q).any():
        raise DataError(f"{owner}: every logged quality must be a number in [0, 1], not NaN.")
    return Q, C, L


def check_propensity(propensity: ArrayLike, n: int, owner: str) -> FloatArray:
    """Logged propensities as ``(n,)`` floats in (0, 1], else :class:`DataError`."""
    p = _as_float(propensity, "propensity", owner).reshape(-1)
    if p.shape != (n,) or not np.all(np.isfinite(p) & (p > 0) & (p <= 1)):
        raise DataError(f"{owner}: 'propensity' must hold {n} values in (0, 1].")
    return p


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


def check_table(
    X: ArrayLike,
    quality: ArrayLike,
    cost: ArrayLike | None,
    models: Any,
    owner: str,
    *,
    latency: ArrayLike | None = None,
    n_features: int | None = None,
) -> tuple[FloatArray, list[str], FloatArray, FloatArray, FloatArray | None]:
    """A full-information table ``(X, quality, cost[, latency])`` for ``models``, validated.

    Returns ``(X, models, quality, cost, latency)``: ``X`` is ``(n, d)``, the outcomes are
    ``(n, K)`` with NaN for unobserved cells (a ``None`` cost is all-NaN, a ``None`` latency
    stays ``None``).

    Raises:
        InvalidParameterError: bad model names.
        DataError: bad embeddings or outcomes, or no observed quality at all.
        DimensionMismatchError: ``X`` is not ``n_features`` wide.
    """
    names = check_models(models, owner)
    Xc = check_embeddings(X, n_features=n_features, owner=owner)
    Q, C, L = check_outcome_arrays(quality, cost, latency, (Xc.shape[0], len(names)), owner)
    if not np.isfinite(Q).any():
        raise DataError(f"{owner}: no observed quality to learn from (every cell is NaN).")
    return Xc, names, Q, C, L


def check_update(
    quality: Any, cost: Any, propensity: Any, owner: str, *, latency: Any = None
) -> tuple[float, float | None, float | None]:
    """One rated outcome of ``update``: ``(quality, cost or None, latency or None)``.

    Raises:
        DataError: quality not in [0, 1], cost or latency negative or not finite, propensity
            not in (0, 1].
    """
    check_propensity([propensity], 1, owner)
    Q, C, L = check_outcome_arrays(
        [quality],
        None if cost is None else [cost],
        None if latency is None else [latency],
        (1,),
        owner,
        quality_nan=False,
    )
    if (cost is not None and np.isnan(C[0])) or (L is not None and np.isnan(L[0])):
        raise DataError(f"{owner}: a given cost or latency must be a number >= 0, not NaN.")
    return (
        float(Q[0]),
        None if cost is None else float(C[0]),
        None if L is None else float(L[0]),
    )


def check_task(task: Any, owner: str = "task") -> str | None:
    """A task key: ``None`` (no task) or a string of 1 to :data:`MAX_TASK_LENGTH` characters
    without control characters, returned unchanged.

    Raises:
        InvalidParameterError: any other value (a task is a name the caller chose: a chain or
            node name, a template id, a tag; never silently coerced).

    Examples:
        >>> check_task("summarize"), check_task(None)
        ('summarize', None)
        >>> check_task(3)
        Traceback (most recent call last):
        ...
        shared.exceptions.InvalidParameterError: task: a task key must be a string or None, got int.
    """
    if task is None:
        return None
    if not isinstance(task, str):
        raise InvalidParameterError(
            f"{owner}: a task key must be a string or None, got {type(task).__name__}."
        )
    if not task or len(task) > MAX_TASK_LENGTH:
        raise InvalidParameterError(
            f"{owner}: a task key must have 1 to {MAX_TASK_LENGTH} characters, got {len(task)}."
        )
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in task):
        raise InvalidParameterError(f"{owner}: a task key must not hold control characters.")
    return task


def check_tasks(tasks: Any, n: int, owner: str) -> list[str | None] | None:
    """One task key (or ``None``) per row, or ``None`` for no tasks at all (see
    :func:`check_task`).

    Raises:
        InvalidParameterError: not a sequence of ``n`` task keys, or a bad key.
    """
    if tasks is None:
        return None
    if isinstance(tasks, str | bytes) or not isinstance(tasks, Sequence | np.ndarray):
        raise InvalidParameterError(
            f"{owner}: tasks must be a sequence of task keys (one per row), "
            f"got {type(tasks).__name__}."
        )
    out = [check_task(t, owner) for t in tasks]
    if len(out) != n:
        raise InvalidParameterError(f"{owner}: {len(out)} task keys for {n} rows.")
    return out
