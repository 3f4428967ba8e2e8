"""Paired bootstrap of two routers' sweeps (shared.evaluation.bootstrap)."""

from __future__ import annotations

import numpy as np
import pytest

from shared import DataError, InvalidParameterError
from shared.evaluation import (
    evaluate_routers,
    paired_bootstrap,
    route_sweep,
    single_model_choices,
)
from shared.evaluation.yardsticks import ReferenceRidgeRouter

MODELS = ["big", "small"]


def _table(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    small_ok = X[:, 0] > 0
    Q = np.column_stack([rng.random(n) < 0.9, np.where(small_ok, rng.random(n) < 0.9, 0)])
    C = np.column_stack([np.full(n, 1.0), np.full(n, 0.1)])
    return X, Q.astype(float), C


def test_observed_differences_match_the_report() -> None:
    """The observed AIQ and Q@Cbest differences are exactly those of evaluate_routers."""
    X, Q, C = _table(400, 0)
    router = ReferenceRidgeRouter(alpha=1.0).fit(X[:200], Q[:200], C[:200], models=MODELS)
    report = evaluate_routers({"r": router}, X[200:], Q[200:], C[200:], MODELS)
    choices, _ = route_sweep(router, X[200:], MODELS)
    res = paired_bootstrap(
        choices, single_model_choices(2, 200), Q[200:], C[200:], n_resamples=200, random_state=0
    )
    r = report.routers["r"]
    assert res.aiq_diff == pytest.approx(r.aiq - report.hull.aiq, abs=1e-12)
    assert res.q_at_cbest_diff == pytest.approx(r.q_at_cbest - report.hull.q_at_cbest, abs=1e-12)
    assert r.anchored_aiq is not None and report.hull.anchored_aiq is not None
    assert res.anchored_aiq_diff == pytest.approx(
        r.anchored_aiq - report.hull.anchored_aiq, abs=1e-12
    )
    lo, hi = res.aiq_interval
    assert lo < res.aiq_diff < hi


def test_a_router_against_itself_is_a_zero_difference() -> None:
    X, Q, C = _table(100, 1)
    sweep = np.stack([np.zeros(100, dtype=int), (X[:, 0] > 0).astype(int)])
    res = paired_bootstrap(sweep, sweep, Q, C, n_resamples=100, random_state=0)
    assert res.aiq_diff == 0.0 and res.aiq_interval == (0.0, 0.0) and res.share_better == 0.0


def test_a_clearly_better_router_wins_nearly_every_resample() -> None:
    """Routing the cheap model exactly where it succeeds beats the hull by a wide margin."""
    _, Q, C = _table(300, 2)
    smart = np.where(Q[:, 1] >= Q[:, 0], 1, 0)
    sweep = np.stack([smart, np.ones(300, dtype=int)])
    res = paired_bootstrap(sweep, single_model_choices(2, 300), Q, C, random_state=3)
    assert res.aiq_diff > 0.1 and res.aiq_interval[0] > 0.05 and res.share_better > 0.99


def test_seeded_resampling_is_reproducible_and_json_ready() -> None:
    X, Q, C = _table(80, 4)
    sweep = np.stack([(X[:, 0] > 0).astype(int)])
    a = paired_bootstrap(sweep, single_model_choices(2, 80), Q, C, n_resamples=100, random_state=7)
    b = paired_bootstrap(sweep, single_model_choices(2, 80), Q, C, n_resamples=100, random_state=7)
    assert a == b
    assert set(a.to_dict()) >= {"aiq_diff", "aiq_interval", "share_better", "n_resamples"}


@pytest.mark.parametrize(
    ("choices", "match"),
    [
        (np.zeros((2, 5), dtype=int), "array of column indices"),
        (np.full((1, 10), 2), "column indices in"),
        (np.zeros((1, 10)), "column indices in"),
    ],
)
def test_bad_choices_are_rejected(choices: np.ndarray, match: str) -> None:
    _, Q, C = _table(10, 5)
    with pytest.raises(DataError, match=match):
        paired_bootstrap(choices, single_model_choices(2, 10), Q, C)


def test_missing_outcomes_and_bad_parameters_are_rejected() -> None:
    _, Q, C = _table(10, 6)
    Q[0, 1] = np.nan
    with pytest.raises(DataError, match="every model observed"):
        paired_bootstrap(single_model_choices(2, 10), single_model_choices(2, 10), Q, C)
    with pytest.raises(InvalidParameterError, match="n_resamples"):
        paired_bootstrap(
            single_model_choices(2, 10), single_model_choices(2, 10), C, C, n_resamples=10
        )
    with pytest.raises(InvalidParameterError, match="confidence"):
        paired_bootstrap(
            single_model_choices(2, 10), single_model_choices(2, 10), C, C, confidence=1.0
        )
