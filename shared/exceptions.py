"""The one error hierarchy of prefroute.

Every error the library raises on purpose derives from :class:`RouterError`, and each also derives
from the builtin exception that code written before prefroute would already catch::

    RouterError
    ├── InvalidParameterError (ValueError)        a constructor or call argument is out of range
    │   ├── PreferenceError                       a quality/cost preference is malformed or unknown
    │   ├── CapabilityError                       the router cannot do what was asked (learn online...)
    │   ├── ObjectiveError                        a preference weighs an objective the router cannot predict
    │   └── DimensionMismatchError                embedding width differs from what the router was fitted on
    ├── NotFittedError (ValueError, AttributeError)  the router has learned nothing yet
    ├── UnknownModelError (KeyError)              a model name is not in the pool / router
    ├── DataError (ValueError)                    a routing table or bandit log is malformed
    ├── InfeasibleError (ValueError)              no assignment meets the budget or accuracy target
    ├── EncoderError (RuntimeError)               a prompt encoder could not be loaded or run
    ├── PersistenceError (OSError)                a saved router is missing, corrupt or from another version
    ├── FeedbackError (ValueError)                a rating or feedback record is invalid
    │   ├── UnknownDecisionError (KeyError)       a rating refers to a decision the store never saw
    │   ├── FeedbackUnavailableError              the feedback database cannot be reached
    │   └── EncoderMismatchError                  stored embeddings come from another encoder
    ├── ClusterUnavailableError (ConnectionError) the Dask scheduler cannot be reached
    ├── EmptyStreamError (RuntimeError)           a member streamed (or answered) nothing (falls back)
    └── AllCandidatesFailedError (RuntimeError)   every candidate model failed for one call

Examples:
    >>> from shared import NotFittedError, RouterError
    >>> issubclass(NotFittedError, RouterError) and issubclass(NotFittedError, ValueError)
    True
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AllCandidatesFailedError",
    "CapabilityError",
    "ClusterUnavailableError",
    "DataError",
    "DimensionMismatchError",
    "EmptyStreamError",
    "EncoderError",
    "EncoderMismatchError",
    "FeedbackError",
    "FeedbackUnavailableError",
    "InfeasibleError",
    "InvalidParameterError",
    "NotFittedError",
    "ObjectiveError",
    "PersistenceError",
    "PreferenceError",
    "RouterError",
    "UnknownDecisionError",
    "UnknownModelError",
]


class RouterError(Exception):
    """Root of every error prefroute raises on purpose."""


class InvalidParameterError(RouterError, ValueError):
    """A constructor or call argument has the wrong type or is out of range."""


class PreferenceError(InvalidParameterError):
    """A preference is malformed: unknown key, negative or non-finite weight, or all weights zero."""


class CapabilityError(InvalidParameterError):
    """The router lacks the capability a call needs (see :mod:`shared.capabilities`).

    For example ``update`` on a router that cannot learn online, or ``fit_bandit`` on one that
    only learns from full tables.
    """


class ObjectiveError(InvalidParameterError):
    """A preference puts weight on an objective the router cannot predict.

    For example ``{"latency": 0.5}`` for a router trained on a table without latencies: the
    router refuses rather than silently ignoring the weight.
    """


class DimensionMismatchError(InvalidParameterError):
    """The width of the embeddings differs from the width the router was fitted on.

    This usually means the prompt encoder was swapped after training.
    """


class NotFittedError(RouterError, ValueError, AttributeError):
    """The router or predictor was used before it learned anything.

    Examples:
        >>> from shared import RidgeRouter
        >>> import numpy as np
        >>> try:
        ...     RidgeRouter().predict_outcomes(np.zeros((1, 3)))
        ... except NotFittedError as err:
        ...     print(type(err).__name__)
        NotFittedError
    """


class UnknownModelError(RouterError, KeyError):
    """A model name is not part of the pool or of the router."""

    def __init__(self, name: str, known: Sequence[str] = ()) -> None:
        self.name = name
        self.known = tuple(known)
        hint = f" Known models: {', '.join(self.known)}." if self.known else ""
        super().__init__(f"Unknown model {name!r}.{hint}")

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class DataError(RouterError, ValueError):
    """A routing table or bandit log is malformed (missing column, NaN, negative cost, duplicate...)."""


class InfeasibleError(RouterError, ValueError):
    """No assignment meets the requested budget or accuracy target."""


class EncoderError(RouterError, RuntimeError):
    """A prompt encoder could not be loaded or could not encode its input."""


class PersistenceError(RouterError, OSError):
    """A saved router directory is missing, corrupt, or written by an incompatible version."""


class FeedbackError(RouterError, ValueError):
    """A rating or a feedback record is invalid (score out of range, missing decision...)."""


class UnknownDecisionError(FeedbackError, KeyError):
    """A rating refers to a run or decision id the feedback store has never recorded."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown decision"


class FeedbackUnavailableError(FeedbackError):
    """The feedback database stayed unreachable for the whole retry budget.

    ``spooled`` tells whether the write was kept in the store's local spool (it is written when
    the database is back) or refused because the spool is full or disabled.
    """

    def __init__(self, message: str, *, spooled: bool = False) -> None:
        super().__init__(message)
        self.spooled = spooled


class ClusterUnavailableError(RouterError, ConnectionError):
    """The Dask scheduler given (``--scheduler ADDRESS``) does not answer within the timeout."""


class EmptyStreamError(RouterError, RuntimeError):
    """A pool member's stream ended without output, or its response held no answer (the router
    falls back)."""


class EncoderMismatchError(FeedbackError):
    """Stored prompt embeddings come from another encoder than the one training would use.

    A router learns in one embedding space: vectors of two encoders are never mixed. Train with
    the encoder the embeddings were stored with, or ask for the mismatched ones to be encoded
    again from their prompt text.
    """


class AllCandidatesFailedError(RouterError, RuntimeError):
    """Every candidate model raised for one call; ``errors`` maps model name to its exception."""

    def __init__(self, errors: dict[str, BaseException]) -> None:
        self.errors = dict(errors)
        from ._redact import error_text

        detail = "; ".join(f"{k}: {error_text(v)}" for k, v in self.errors.items())
        super().__init__(f"All {len(self.errors)} candidate models failed: {detail}")
