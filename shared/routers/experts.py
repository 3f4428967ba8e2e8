"""DomainExpertRouter: the IR3DE linear router (one-hot domain targets, one shared Gram matrix).

Each expert (model) owns a domain. A training prompt (or each of its chunks) is labelled with
its domain's expert; one multi-output ridge regression maps the embedding to the one-hot label:

    W̃ = (A + λP)⁻¹ B,  A = Σ_e A_e,  A_e = X̃_eᵀX̃_e,  B[:, e] = X̃_eᵀ1

then each column is divided by the norm of its weights (IR3DE's column normalization). Routing
scores a prompt with ``x̃ᵀW̃``: ``"average"`` takes the argmax of the mean score over chunks,
``"majority"`` lets each chunk vote for its argmax (optionally only the ``top_k`` chunks with the
lowest softmax entropy) and takes the most voted expert, ties broken by the mean score.

The per-expert statistics are kept, so :meth:`add_model` / :meth:`remove_model` update
``A ← A ± A_e`` and re-solve one system without revisiting any other expert's data; the result
equals a fit from scratch. Cost is not modelled: the router picks the domain's expert.

Examples:
    >>> import numpy as np
    >>> from shared import DomainExpertRouter
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(3, 1, (20, 4)), rng.normal(-3, 1, (20, 4))])
    >>> labels = ["math"] * 20 + ["code"] * 20
    >>> router = DomainExpertRouter().fit(X, labels)
    >>> router.predict([[3.0, 3, 3, 3], [-3.0, -3, -3, -3]]).tolist()
    ['math', 'code']
    >>> chunks = [np.vstack([X[0], X[1], X[25]])]  # one prompt, three chunk embeddings
    >>> router.predict_experts(chunks, strategy="majority").tolist()
    ['math']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.linalg import cho_factor, cho_solve

from .._base import BaseRouter, RouteScores
from .._validation import (
    Interval,
    Options,
    check_embeddings,
    check_models,
    check_width,
    is_alpha_grid,
    model_index,
)
from ..capabilities import FitsLabels, Persists
from ..exceptions import DataError, InvalidParameterError
from ..preference import Preference
from ._linear import DEFAULT_ALPHAS, design, gcv_scores

FloatArray = NDArray[np.float64]
Embeddings = ArrayLike | Sequence[ArrayLike]

__all__ = ["DomainExpertRouter"]


def _as_chunks(X: Embeddings, owner: str) -> list[FloatArray]:
    """A 2-D array gives one chunk per prompt; a list gives ``(n_chunks_i, d)`` per prompt."""
    if isinstance(X, np.ndarray) and X.ndim == 2:
        return [row[None, :] for row in check_embeddings(X, owner=owner)]
    if isinstance(X, Sequence) and not isinstance(X, str) and X:
        first = np.asarray(X[0], dtype=np.float64)
        if first.ndim == 1:  # list of vectors
            return [row[None, :] for row in check_embeddings(np.asarray(X), owner=owner)]
        chunks = [check_embeddings(c, owner=owner, allow_1d=True) for c in X]
        if len({c.shape[1] for c in chunks}) != 1:
            raise DataError(f"All chunk embeddings given to {owner} must have the same width.")
        return chunks
    raise DataError(
        f"{owner} takes a 2-D array (one embedding per prompt) or a list of (n_chunks, d) arrays."
    )


class DomainExpertRouter(FitsLabels, Persists, BaseRouter):
    """IR3DE: route each prompt to the expert of its predicted domain (shared-Gram ridge).

    Args:
        alpha: ridge penalty λ (IR3DE uses 1e-2) or ``"gcv"`` (generalized cross-validation on
            the training statistics over ``alphas``); stored in ``alpha_``.
        alphas: grid for ``"gcv"`` (default: 29 values log-spaced in [1e-3, 1e4]).
        fit_intercept: append a bias column (IR3DE does).
        penalize_intercept: penalize the bias too (IR3DE does).
        normalize_columns: divide each expert's weights and bias by its weight norm (IR3DE).
        class_weight: ``None`` or ``"balanced"`` (weight each row by
            ``n_rows / (n_experts * n_rows_of_its_expert)``, so large domains do not dominate).
        strategy: ``"average"`` or ``"majority"`` (see the module docstring).
        top_k: with ``"majority"``, vote with only the ``top_k`` lowest-entropy chunks.
    """

    _parameter_constraints = {  # noqa: RUF012
        "alpha": [Interval(float, 0, None, closed="neither"), Options(("gcv",))],
        "alphas": [None, is_alpha_grid],
        "fit_intercept": ["boolean"],
        "penalize_intercept": ["boolean"],
        "normalize_columns": ["boolean"],
        "class_weight": [None, Options(("balanced",))],
        "strategy": [Options(("average", "majority"))],
        "top_k": [None, Interval(int, 1, None)],
    }

    @classmethod
    def _unit_test_params(cls) -> list[dict[str, Any]]:
        return [{}, {"strategy": "majority", "alpha": "gcv"}]

    def __init__(
        self,
        *,
        alpha: float | str = 1e-2,
        alphas: Sequence[float] | None = None,
        fit_intercept: bool = True,
        penalize_intercept: bool = True,
        normalize_columns: bool = True,
        class_weight: str | None = None,
        strategy: str = "average",
        top_k: int | None = None,
    ) -> None:
        self.alpha = alpha
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.penalize_intercept = penalize_intercept
        self.normalize_columns = normalize_columns
        self.class_weight = class_weight
        self.strategy = strategy
        self.top_k = top_k

    # ------------------------------------------------------------------ learning
    def _expert_stats(self, chunks: list[FloatArray]) -> tuple[FloatArray, FloatArray, float]:
        Xt = design(np.vstack(chunks), self.fit_intercept)
        return Xt.T @ Xt, Xt.sum(axis=0), float(Xt.shape[0])

    def fit(
        self,
        X: Embeddings,
        experts_labels: Sequence[str],
        *,
        experts: Sequence[str] | None = None,
    ) -> Self:
        """Fit from prompts labelled with their domain's expert.

        Args:
            X: ``(n_prompts, d)`` embeddings, or a list of ``(n_chunks_i, d)`` chunk embeddings
                (every chunk of a prompt gets the prompt's label, like IR3DE's tokens).
            experts_labels: the expert (model name) of each prompt's domain.
            experts: expert order (default: sorted labels); may include experts without data,
                which then score 0 until :meth:`add_model` gives them data.
        """
        self._validate_params()
        owner = type(self).__name__
        chunks = _as_chunks(X, owner)
        labels = [str(v) for v in experts_labels]
        if len(labels) != len(chunks):
            raise DataError(f"{owner}: {len(labels)} labels for {len(chunks)} prompts.")
        names = check_models(sorted(set(labels)) if experts is None else experts, owner)
        for label in set(labels) - set(names):
            raise InvalidParameterError(f"{owner}: label {label!r} is not among experts {names}.")
        d = chunks[0].shape[1]
        p = d + int(self.fit_intercept)
        self.models_ = list(names)
        self.n_features_in_ = int(d)
        self.cost_scale_ = 1.0
        self.gram_ = np.zeros((len(names), p, p))
        self.target_ = np.zeros((len(names), p))
        self.counts_ = np.zeros(len(names))
        for k, name in enumerate(names):
            mine = [c for c, lab in zip(chunks, labels) if lab == name]
            if mine:
                self.gram_[k], self.target_[k], self.counts_[k] = self._expert_stats(mine)
        self._solve(choose_alpha=True)
        return self

    def _weights(self) -> FloatArray:
        total = self.counts_.sum()
        active = self.counts_ > 0
        w = np.zeros(len(self.counts_))
        if self.class_weight == "balanced":
            w[active] = total / (active.sum() * self.counts_[active])
        else:
            w[active] = 1.0
        return w

    def _solve(self, *, choose_alpha: bool) -> None:
        w = self._weights()
        A = np.einsum("k,kpq->pq", w, self.gram_)
        B = (self.target_ * w[:, None]).T  # (p, K)
        n = float((w * self.counts_).sum())
        pen = np.ones(A.shape[0])
        if self.fit_intercept and not self.penalize_intercept:
            pen[-1] = 0.0
        if choose_alpha or not hasattr(self, "alpha_"):
            if self.alpha == "gcv":
                grid = np.asarray(DEFAULT_ALPHAS if self.alphas is None else self.alphas, float)
                yy = w * self.counts_  # one-hot targets: yᵀy = weighted count per expert
                score = gcv_scores(
                    A,
                    B,
                    yy,
                    n,
                    grid,
                    fit_intercept=self.fit_intercept,
                    penalize_intercept=self.penalize_intercept,
                )
                self.alpha_ = float(grid[int(np.argmin(score))]) if np.ptp(score) > 0 else 1e-2
            else:
                self.alpha_ = float(self.alpha)
        M = A + self.alpha_ * np.diag(pen)
        if n == 0:
            raise DataError(f"{type(self).__name__} needs training data for at least one expert.")
        W = cho_solve(cho_factor(M, lower=True, check_finite=False), B, check_finite=False)
        if self.normalize_columns:
            norms = np.linalg.norm(W[: self.n_features_in_], axis=0)
            W = W / np.where(norms > 0, norms, 1e-6)
        self.coef_ = np.asarray(W, dtype=np.float64)

    # ------------------------------------------------------------------ experts
    def add_model(self, name: str, X: Embeddings, *, refit_alpha: bool = False) -> Self:
        """Add an expert with its domain's prompts: ``A ← A + A_e``, one re-solve.

        Args:
            name: the new expert.
            X: its domain's prompt (or chunk) embeddings.
            refit_alpha: re-choose ``alpha_`` by GCV (only with ``alpha="gcv"``).
        """
        self._check_fitted()
        if not isinstance(name, str) or not name or name in self.models_:
            raise InvalidParameterError(f"Cannot add expert {name!r}: empty or already present.")
        chunks = _as_chunks(X, type(self).__name__)
        check_width(chunks[0].shape[1], self.n_features_in_, type(self).__name__)
        A_e, b_e, n_e = self._expert_stats(chunks)
        self.gram_ = np.concatenate([self.gram_, A_e[None]])
        self.target_ = np.concatenate([self.target_, b_e[None]])
        self.counts_ = np.append(self.counts_, n_e)
        self.models_.append(name)
        self._solve(choose_alpha=refit_alpha)
        return self

    def remove_model(self, name: str, *, refit_alpha: bool = False) -> Self:
        """Remove an expert: ``A ← A - A_e``, drop its column, one re-solve."""
        self._check_fitted()
        k = model_index(self.models_, name)
        if len(self.models_) == 1:
            raise InvalidParameterError("Cannot remove the last expert of the router.")
        keep = np.arange(len(self.models_)) != k
        gram, target, counts = self.gram_, self.target_, self.counts_
        self.gram_, self.target_, self.counts_ = gram[keep], target[keep], counts[keep]
        del self.models_[k]
        try:
            self._solve(choose_alpha=refit_alpha)
        except DataError:  # nothing left to learn from: restore
            self.gram_, self.target_, self.counts_ = gram, target, counts
            self.models_.insert(k, name)
            raise
        return self

    # ------------------------------------------------------------------ routing
    def expert_scores(self, X: Embeddings, strategy: str | None = None) -> FloatArray:
        """``(n_prompts, n_experts)`` scores: mean logits (average) or vote shares (majority).

        Majority vote shares carry ``1e-6 x`` the mean logits so ties go to the higher mean.
        """
        self._check_fitted()
        strategy = strategy or self.strategy
        if strategy not in ("average", "majority"):
            raise InvalidParameterError(f"Unknown strategy {strategy!r}.")
        chunks = _as_chunks(X, type(self).__name__)
        check_width(chunks[0].shape[1], self.n_features_in_, type(self).__name__)
        out = np.empty((len(chunks), len(self.models_)))
        for i, c in enumerate(chunks):
            logits = design(c, self.fit_intercept) @ self.coef_
            mean = logits.mean(axis=0)
            if strategy == "average" or logits.shape[0] == 1:
                out[i] = mean
                continue
            if self.top_k is not None and logits.shape[0] > self.top_k:
                z = np.exp(logits - logits.max(axis=1, keepdims=True))
                prob = z / z.sum(axis=1, keepdims=True)
                entropy = -(prob * np.log(np.maximum(prob, 1e-300))).sum(axis=1)
                logits = logits[np.argsort(entropy, kind="stable")[: self.top_k]]
            votes = np.bincount(logits.argmax(axis=1), minlength=len(self.models_))
            out[i] = votes / logits.shape[0] + 1e-6 * mean
        return out

    def predict_experts(self, X: Embeddings, strategy: str | None = None) -> NDArray[Any]:
        """The chosen expert per prompt (accepts chunk lists, see :meth:`expert_scores`)."""
        idx = np.argmax(self.expert_scores(X, strategy), axis=1)
        names: NDArray[Any] = np.asarray(self.models_, dtype=object)[idx]
        return names

    def _route_scores(self, X: FloatArray, preference: Preference, explore: bool) -> RouteScores:
        return RouteScores(utility=self.expert_scores(X))

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
        meta = {"models": list(self.models_), "n_features_in": self.n_features_in_}
        meta["alpha"] = self.alpha_
        return meta, {"gram": self.gram_, "target": self.target_, "counts": self.counts_}

    def _set_state(self, meta: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> None:
        self.models_ = list(meta["models"])
        self.n_features_in_ = int(meta["n_features_in"])
        self.cost_scale_ = 1.0
        self.alpha_ = float(meta["alpha"])
        self.gram_ = np.asarray(arrays["gram"], dtype=np.float64)
        self.target_ = np.asarray(arrays["target"], dtype=np.float64)
        self.counts_ = np.asarray(arrays["counts"], dtype=np.float64)
        self._solve(choose_alpha=False)
