"""NSGA-II baseline of the OptLLM paper (pymoo), on the same robust objective.

pymoo is an optional extra (``pip install prefroute[nsga2]``); it is imported only when
:func:`nsga2_front` runs, and :func:`nsga2_available` tells whether it can.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..exceptions import InvalidParameterError
from .front import ParetoFront, check_matrices, front_from_choices

__all__ = ["nsga2_available", "nsga2_front"]


def nsga2_available() -> bool:
    """Whether pymoo is installed (the ``nsga2`` extra).

    Examples:
        >>> isinstance(nsga2_available(), bool)
        True
    """
    return importlib.util.find_spec("pymoo") is not None


def nsga2_front(
    P: ArrayLike,
    C: ArrayLike,
    *,
    pop_size: int = 100,
    n_gen: int = 100,
    max_seconds: float | None = None,
    seed: int | None = 0,
    models: Sequence[str] | None = None,
) -> ParetoFront:
    """Non-dominated assignments found by NSGA-II (the paper's tuned settings).

    Settings from the paper's baseline table: population 100, Latin hypercube sampling, SBX
    crossover (p = 0.778, eta = 7), polynomial mutation (p = 0.8119, eta = 9), integer rounding
    repair, 100 generations (or fewer when ``max_seconds`` runs out first).

    Args:
        P: ``(n, K)`` success probabilities to maximize (the paper uses the robust ones).
        C: ``(n, K)`` USD costs to minimize.
        pop_size: population size.
        n_gen: generations.
        max_seconds: optional wall-time cap.
        seed: pymoo's random seed.
        models: optional column names, attached to the assignments.

    Raises:
        ImportError: pymoo is not installed.

    Examples:
        >>> import numpy as np
        >>> P = np.array([[0.6, 0.9], [0.1, 0.7]])
        >>> C = np.array([[1.0, 2.0], [1.0, 2.0]])
        >>> front = nsga2_front(P, C, pop_size=8, n_gen=5, seed=1)
        >>> front.method, front.points[-1].tolist()
        ('nsga2', [4.0, 0.8])
    """
    if not nsga2_available():
        raise ImportError("nsga2_front needs pymoo: pip install 'prefroute[nsga2]'.")
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.problem import Problem
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.mutation.pm import PM
    from pymoo.operators.repair.rounding import RoundingRepair
    from pymoo.operators.sampling.lhs import LHS
    from pymoo.optimize import minimize
    from pymoo.termination.collection import TerminationCollection
    from pymoo.termination.max_gen import MaximumGenerationTermination
    from pymoo.termination.max_time import TimeBasedTermination

    t0 = time.perf_counter()
    p, c = check_matrices(P, C)
    if pop_size < 2 or n_gen < 1:
        raise InvalidParameterError("NSGA-II needs pop_size >= 2 and n_gen >= 1.")
    n, K = p.shape
    rows = np.arange(n)

    class _Assign(Problem):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(n_var=n, n_obj=2, xl=0, xu=K - 1, vtype=int)

        def _evaluate(self, x: Any, out: dict[str, Any], *args: Any, **kwargs: Any) -> None:
            s = np.clip(np.rint(x), 0, K - 1).astype(np.intp)
            out["F"] = np.column_stack(
                [c[rows[None, :], s].sum(axis=1), -p[rows[None, :], s].mean(axis=1)]
            )

    algorithm = NSGA2(
        pop_size=pop_size,
        sampling=LHS(),
        crossover=SBX(prob=0.778, eta=7, vtype=float, repair=RoundingRepair()),
        mutation=PM(prob=0.8119, eta=9, vtype=float, repair=RoundingRepair()),
        eliminate_duplicates=True,
    )
    stops: list[Any] = [MaximumGenerationTermination(n_gen)]
    if max_seconds is not None:
        stops.append(TimeBasedTermination(max_seconds))
    res = minimize(_Assign(), algorithm, TerminationCollection(*stops), seed=seed, verbose=False)
    X = np.atleast_2d(res.X if res.X is not None else res.pop.get("X"))
    matrix = np.clip(np.rint(X), 0, K - 1).astype(np.intp)
    return front_from_choices(
        matrix, p, c, method="nsga2", seconds=time.perf_counter() - t0, models=models
    )
