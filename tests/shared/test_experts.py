"""DomainExpertRouter: IR3DE's shared-Gram one-hot ridge, strategies and exact add/remove."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from shared import DataError, DimensionMismatchError, DomainExpertRouter, InvalidParameterError
from shared.routers._linear import design

CENTERS = {"math": 3.0, "code": -3.0, "chat": 0.0}


def _domains(n: int = 30, d: int = 5, seed: int = 0) -> tuple[Any, list[str]]:
    rng = np.random.default_rng(seed)
    X, labels = [], []
    for j, (name, center) in enumerate(CENTERS.items()):
        block = rng.normal(size=(n, d))
        block[:, j] += center * 2 if center else 6.0
        X.append(block)
        labels += [name] * n
    return np.vstack(X), labels


def _reference(X: Any, labels: list[str], experts: list[str], alpha: float) -> Any:
    """IR3DE's generate_router: one solve, one-hot targets, bias penalized, columns normalized."""
    Xt = design(X, True)
    Y = np.array([[lab == e for e in experts] for lab in labels], dtype=float)
    W = np.linalg.solve(Xt.T @ Xt + alpha * np.eye(Xt.shape[1]), Xt.T @ Y)
    return W / np.linalg.norm(W[:-1], axis=0)


def test_fit_matches_the_ir3de_closed_form() -> None:
    """Weights equal the reference normalized solution of (A + λI) W = Xᵀ Y."""
    X, labels = _domains()
    router = DomainExpertRouter(alpha=0.01).fit(X, labels)
    np.testing.assert_allclose(router.coef_, _reference(X, labels, router.models_, 0.01), atol=1e-9)
    assert (router.predict(X) == np.asarray(labels, dtype=object)).mean() > 0.95


def test_add_and_remove_expert_equal_fit_from_scratch() -> None:
    """A ± A_e then one re-solve equals a from-scratch fit to 1e-8."""
    X, labels = _domains()
    lab = np.asarray(labels)
    base = DomainExpertRouter(alpha=0.1).fit(X[lab != "chat"], list(lab[lab != "chat"]))
    base.add_model("chat", X[lab == "chat"])
    scratch = DomainExpertRouter(alpha=0.1).fit(X, labels, experts=["code", "math", "chat"])
    assert base.models_ == scratch.models_
    np.testing.assert_allclose(base.coef_, scratch.coef_, atol=1e-8)
    scratch.remove_model("math")
    rest = DomainExpertRouter(alpha=0.1).fit(X[lab != "math"], list(lab[lab != "math"]))
    rest_order = DomainExpertRouter(alpha=0.1).fit(
        X[lab != "math"], list(lab[lab != "math"]), experts=["code", "chat"]
    )
    np.testing.assert_allclose(scratch.coef_, rest_order.coef_, atol=1e-8)
    assert sorted(rest.models_) == sorted(scratch.models_)


def test_balanced_class_weight_add_remove_is_exact() -> None:
    """With class_weight='balanced' add/remove still equals a from-scratch fit."""
    X, labels = _domains()
    lab = np.asarray(labels)
    keep = (lab != "code") | (np.arange(len(lab)) % 3 == 0)  # an unbalanced domain
    X, lab = X[keep], lab[keep]
    kw: dict[str, Any] = {"alpha": 0.5, "class_weight": "balanced"}
    router = DomainExpertRouter(**kw).fit(X[lab != "chat"], list(lab[lab != "chat"]))
    router.add_model("chat", X[lab == "chat"])
    scratch = DomainExpertRouter(**kw).fit(X, list(lab), experts=["code", "math", "chat"])
    np.testing.assert_allclose(router.coef_, scratch.coef_, atol=1e-8)


def test_chunk_lists_vote_by_majority_or_average() -> None:
    """Chunk lists give one vote per chunk (majority) or one mean score (average)."""
    X, labels = _domains()
    router = DomainExpertRouter().fit(X, labels)
    lab = np.asarray(labels)
    math_rows, code_rows = X[lab == "math"], X[lab == "code"]
    prompt = np.vstack([math_rows[:2], code_rows[0] * 10])  # two math chunks, one strong code chunk
    assert router.predict_experts([prompt], strategy="majority").tolist() == ["math"]
    assert router.predict_experts([prompt], strategy="average").tolist() == ["code"]
    scores = router.expert_scores([prompt, math_rows[:1]], strategy="majority")
    assert scores.shape == (2, 3)
    single = router.expert_scores(X[:4])
    np.testing.assert_allclose(single, design(X[:4], True) @ router.coef_)


def test_top_k_keeps_only_confident_chunks() -> None:
    """With top_k the lowest-entropy chunks vote; ambiguous chunks are ignored."""
    X, labels = _domains()
    router = DomainExpertRouter(strategy="majority", top_k=1).fit(X, labels)
    lab = np.asarray(labels)
    confident = X[lab == "code"][0] * 3
    ambiguous = np.zeros((2, X.shape[1]))
    assert router.predict_experts([np.vstack([ambiguous, confident])]).tolist() == ["code"]


def test_gcv_chooses_alpha_from_the_grid() -> None:
    """alpha='gcv' stores one of the grid values in alpha_."""
    X, labels = _domains()
    router = DomainExpertRouter(alpha="gcv", alphas=[0.01, 1.0, 1e4]).fit(X, labels)
    assert router.alpha_ in {0.01, 1.0}


def test_errors() -> None:
    """Label count, unknown labels, widths and bad parameters raise typed errors."""
    X, labels = _domains()
    with pytest.raises(DataError):
        DomainExpertRouter().fit(X, labels[:-1])
    with pytest.raises(InvalidParameterError):
        DomainExpertRouter().fit(X, labels, experts=["math", "code"])
    router = DomainExpertRouter().fit(X, labels)
    with pytest.raises(DimensionMismatchError):
        router.predict(np.zeros((1, 3)))
    with pytest.raises(DimensionMismatchError):
        router.add_model("new", np.zeros((2, 3)))
    with pytest.raises(InvalidParameterError, match="'strategy' parameter"):
        DomainExpertRouter(strategy="vote").fit(X, labels)
    with pytest.raises(InvalidParameterError, match="'alpha' parameter"):
        DomainExpertRouter(alpha=0).fit(X, labels)
    with pytest.raises(InvalidParameterError):
        router.remove_model("math").remove_model("code").remove_model("chat")
