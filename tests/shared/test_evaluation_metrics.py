"""Metrics on tiny hand-computed cases (the golden values are derived in each docstring)."""

from __future__ import annotations

import numpy as np
import pytest

from shared import DataError, InvalidParameterError, aiq, cost_at_quality, frontier, quality_at_cost
from shared.evaluation import (
    OutcomePoint,
    anchored_aiq,
    apgr,
    cpt,
    gap_closed,
    oracle_point,
    pgr_curve,
    random_point,
    single_model_points,
)


def test_frontier_keeps_non_decreasing_upper_hull() -> None:
    """Points (1,.2) (2,.6) (3,.65) (4,.9) (5,.8) (2.5,.3): (3,.65) lies under the chord
    (2,.6)-(4,.9) (0.75 at cost 3), (5,.8) is below the cheaper (4,.9), (2.5,.3) is inside:
    the frontier is (1,.2) (2,.6) (4,.9)."""
    pts = [(1, 0.2), (2, 0.6), (3, 0.65), (4, 0.9), (5, 0.8), (2.5, 0.3)]
    np.testing.assert_allclose(frontier(pts), [[1, 0.2], [2, 0.6], [4, 0.9]])


def test_frontier_ties_and_collinear_points() -> None:
    """Equal costs keep the best quality; a collinear middle point (2, .5) between (1, .4) and
    (3, .6) is dropped; a flat tail after the maximum is cut at its cheapest point (3, .6)."""
    pts = [(1, 0.4), (1, 0.1), (2, 0.5), (3, 0.6), (4, 0.6)]
    np.testing.assert_allclose(frontier(pts), [[1, 0.4], [3, 0.6]])


def test_frontier_of_one_point_and_bad_input() -> None:
    """A single point is its own frontier; non (n, 2) or non-finite input is a DataError."""
    np.testing.assert_allclose(frontier([(0.5, 0.7)]), [[0.5, 0.7]])
    with pytest.raises(DataError):
        frontier([1.0, 2.0])
    with pytest.raises(DataError):
        frontier([(np.nan, 1.0)])


def test_aiq_flat_extensions_and_clipping() -> None:
    """Frontier (1,.5)-(3,.9) with c_max=4: x=.25..0.75; area = .25*.5 (flat left)
    + .5*(.5+.9)/2 (segment) + .25*.9 (flat right) = .125 + .35 + .225 = 0.7."""
    assert aiq([(1, 0.5), (3, 0.9)], c_max=4) == pytest.approx(0.7)


def test_aiq_ignores_the_part_beyond_c_max() -> None:
    """Frontier (0,0)-(4,1) with c_max=2: only x in [0,1] counts, where q rises 0 -> .5:
    area = .5 * 1 * .5 = 0.25."""
    assert aiq([(0, 0), (4, 1)], c_max=2) == pytest.approx(0.25)
    with pytest.raises(InvalidParameterError):
        aiq([(0, 0)], c_max=0)


def test_quality_at_cost_interpolates_and_extends_flat() -> None:
    """Frontier (1,.5)-(3,.9): at cost 2 quality .7; at .5 the flat left .5; at 10 the flat
    right .9."""
    f = [(1, 0.5), (3, 0.9)]
    assert quality_at_cost(f, 2) == pytest.approx(0.7)
    assert quality_at_cost(f, 0.5) == pytest.approx(0.5)
    assert quality_at_cost(f, 10) == pytest.approx(0.9)


def test_cost_at_quality_least_cost_or_none() -> None:
    """Frontier (1,.5)-(3,.9): quality .8 is reached at 1 + 2*(.3/.4) = 2.5; .4 already at the
    cheapest point 1; .95 never (None)."""
    f = [(1, 0.5), (3, 0.9)]
    assert cost_at_quality(f, 0.8) == pytest.approx(2.5)
    assert cost_at_quality(f, 0.4) == pytest.approx(1.0)
    assert cost_at_quality(f, 0.95) is None


def test_gap_closed() -> None:
    """(Q@Cbest - q_best) / (q_oracle - q_best) = (.85 - .8) / (1 - .8) = .25; no gap -> None."""
    assert gap_closed(0.85, 0.8, 1.0) == pytest.approx(0.25)
    assert gap_closed(0.85, 0.8, 0.8) is None


def test_oracle_single_and_random_points() -> None:
    """Q = [[1,1],[0,1],[0,0]], C = [[4,1],[4,1],[4,1]]: prompt 1 ties -> cheap model (cost 1),
    prompt 2 -> model 1 (1), prompt 3 all 0 -> cheapest (1): oracle (1, 2/3). Single models:
    (4, 1/3) and (1, 2/3). Random: (2.5, 1/2)."""
    Q = np.array([[1.0, 1.0], [0.0, 1.0], [0.0, 0.0]])
    C = np.array([[4.0, 1.0]] * 3)
    o = oracle_point(Q, C)
    assert o.cost == pytest.approx(1.0) and o.quality == pytest.approx(2 / 3)
    np.testing.assert_allclose(single_model_points(Q, C), [[4, 1 / 3], [1, 2 / 3]])
    assert random_point(Q, C) == OutcomePoint(cost=2.5, quality=0.5)
    with pytest.raises(DataError, match="observed"):
        oracle_point([[np.nan, 1.0]], [[1.0, 1.0]])


def test_pgr_curve_apgr_and_cpt() -> None:
    """Strong quality [1,1,0,1], weak [0,1,0,0], scores [.9,.1,.5,.8]: sending the top-k to the
    strong model gives mean quality 1/4, 2/4, 3/4, 3/4, 3/4 for k=0..4 (x = k/4); q_weak=1/4,
    q_strong=3/4 so PGR = 0, .5, 1, 1, 1; APGR = trapezoids .25*(0+.5)/2 + .25*(.5+1)/2 + .5*1
    = .0625 + .1875 + .5 = .75; CPT(50%) = .25; CPT(80%) = .25 + .25*(.3/.5) = .4."""
    curve = pgr_curve([0.9, 0.1, 0.5, 0.8], [1, 1, 0, 1], [0, 1, 0, 0])
    np.testing.assert_allclose(curve[:, 1], [0.25, 0.5, 0.75, 0.75, 0.75])
    assert apgr(curve, q_weak=0.25, q_strong=0.75) == pytest.approx(0.75)
    assert cpt(curve, 0.25, 0.75, 0.5) == pytest.approx(0.25)
    assert cpt(curve, 0.25, 0.75, 0.8) == pytest.approx(0.4)
    assert cpt(curve, 0.25, 0.75, 1.1) is None
    with pytest.raises(InvalidParameterError):
        apgr(curve, q_weak=0.75, q_strong=0.25)


def test_anchored_aiq_no_longer_credits_one_point_with_its_quality_at_every_cost() -> None:
    """Single models (1, .4) and (4, .9), c_max 4. The best model alone: plain AIQ extends its
    point flat to the left (0.9); anchored, its frontier is the hull's, area
    .25*.4 + .75*(.4+.9)/2 = .5875. A router point (2, .85) above the hull's chord adds area:
    .25*.4 + .25*(.4+.85)/2 + .5*(.85+.9)/2 = .69375."""
    single = [(1.0, 0.4), (4.0, 0.9)]
    assert aiq(frontier([(4.0, 0.9)]), 4.0) == pytest.approx(0.9)
    assert anchored_aiq([(4.0, 0.9)], single, 4.0) == pytest.approx(0.5875)
    assert anchored_aiq(single, single, 4.0) == pytest.approx(aiq(frontier(single), 4.0))
    assert anchored_aiq([(2.0, 0.85)], single, 4.0) == pytest.approx(0.69375)
    assert anchored_aiq([(2.0, 0.1)], single, 4.0) == pytest.approx(0.5875)  # below: no credit
    with pytest.raises(DataError):
        anchored_aiq([(1.0, 0.5)], [(1.0, np.nan)], 4.0)
