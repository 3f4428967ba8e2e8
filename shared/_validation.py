"""Declarative parameter constraints and array checks, one message format for all estimators."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .exceptions import DataError, DimensionMismatchError, InvalidParameterError

__all__ = [
    "Interval",
    "Options",
    "check_embeddings",
    "validate_params",
]


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
