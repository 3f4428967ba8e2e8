"""OptLLM's robust success predictor: a bootstrap ensemble of multi-label classifiers.

For each of ``n_bootstrap`` resamples of the training prompts, one classifier per model predicts
whether that model answers a prompt correctly (the paper's ``MultiOutputClassifier`` fits one
classifier per output the same way). Each member is weighted by its accuracy on the TRUE
validation labels (the official code weights by pseudo-labels built from test-set predictions, a
bug this class avoids), and the ensemble gives a weighted mean ``p`` and a standard deviation
``sigma`` per (prompt, model). The robust score is ``p + alpha * sigma``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._base import BaseEstimator
from .._validation import Constraint, Interval, Options, check_embeddings
from ..exceptions import DataError, NotFittedError

__all__ = ["SuccessPredictor"]

FloatArray = NDArray[np.float64]
_Member = list[Any]  # per model: a fitted classifier, or a float when its labels were constant


def _labels(Y: ArrayLike, n: int, owner: str) -> FloatArray:
    y = np.asarray(Y, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[0] != n:
        raise DataError(f"{owner}: labels must have shape (n_samples, n_models) with {n} rows.")
    obs = ~np.isnan(y)
    if np.any(np.isinf(y)) or np.any((y[obs] < 0) | (y[obs] > 1)):
        raise DataError(f"{owner}: labels must lie in [0, 1] (NaN marks an unobserved cell).")
    return y


class SuccessPredictor(BaseEstimator):
    """Predict, per prompt embedding and model, the probability that the model succeeds.

    Labels in [0, 1] are binarized (``label >= threshold`` is a success), as the paper's
    classifiers need 0/1 targets; NaN labels (unobserved) are skipped per model.

    Args:
        estimator: ``"random_forest"`` (the paper's ``RandomForestClassifier(n_estimators,
            max_depth)`` per model) or ``"logistic"`` (per-model logistic regression, much faster).
        n_bootstrap: ensemble size. The paper uses 100; the default 10 is ~10x faster and gives
            the same mean to within sampling noise (sigma is noisier).
        alpha: robust score ``p + alpha * sigma``. ``alpha > 0`` is optimistic (an upper bound,
            the paper's ``main.py`` uses 1); ``alpha < 0`` is pessimistic (risk averse); 0 is the
            plain ensemble mean.
        n_estimators: trees per random forest.
        max_depth: depth of the trees (``None``: unlimited).
        C: inverse regularization of the logistic regression.
        threshold: labels at or above it count as a success.
        n_jobs: parallel jobs of the random forest.
        random_state: seed of the resamples and of the classifiers.

    Attributes:
        models_: model names (columns).
        n_features_in_: embedding width.
        weights_: ``(n_bootstrap,)`` validation accuracy of each member (the ensemble weights).
        base_rate_: ``(K,)`` training success rate per model.

    Examples:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(40, 3))
        >>> Y = np.column_stack([X[:, 0] > 0, np.ones(40)]).astype(float)
        >>> pred = SuccessPredictor(estimator="logistic", n_bootstrap=3, random_state=0)
        >>> pred = pred.fit(X[:30], Y[:30], X_val=X[30:], Y_val=Y[30:], models=["a", "b"])
        >>> pred.predict_proba(X[:2]).shape, float(pred.predict_proba(X[:1])[0, 1])
        ((2, 2), 1.0)
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "estimator": [Options({"random_forest", "logistic"})],
        "n_bootstrap": [Interval(int, 1, None)],
        "alpha": [Interval(float, None, None)],
        "n_estimators": [Interval(int, 1, None)],
        "max_depth": [Interval(int, 1, None), None],
        "C": [Interval(float, 0, None, closed="neither")],
        "threshold": [Interval(float, 0, 1, closed="right")],
        "n_jobs": [Interval(int, None, None), None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        estimator: str = "random_forest",
        n_bootstrap: int = 10,
        alpha: float = 1.0,
        n_estimators: int = 100,
        max_depth: int | None = 10,
        C: float = 1.0,
        threshold: float = 0.5,
        n_jobs: int | None = None,
        random_state: int | None = None,
    ) -> None:
        self.estimator = estimator
        self.n_bootstrap = n_bootstrap
        self.alpha = alpha
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.C = C
        self.threshold = threshold
        self.n_jobs = n_jobs
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting
    def _new_classifier(self, seed: int) -> Any:
        if self.estimator == "logistic":
            from sklearn.linear_model import LogisticRegression

            return LogisticRegression(C=self.C, max_iter=1000)
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            n_jobs=self.n_jobs,
            random_state=seed,
        )

    def _fit_member(
        self, X: FloatArray, y: FloatArray, obs: NDArray[np.bool_], rng: np.random.Generator
    ) -> _Member:
        member: _Member = []
        for j in range(y.shape[1]):
            rows = obs[:, j]
            labels = y[rows, j]
            if labels.size == 0 or np.all(labels == labels[0]):
                # one class only: predict_proba would have a single column; store the constant
                member.append(float(labels[0]) if labels.size else float(self.base_rate_[j]))
                continue
            clf = self._new_classifier(int(rng.integers(2**31 - 1)))
            member.append(clf.fit(X[rows], labels.astype(np.int64)))
        return member

    @staticmethod
    def _member_proba(member: _Member, X: FloatArray) -> FloatArray:
        out = np.empty((X.shape[0], len(member)))
        for j, clf in enumerate(member):
            if isinstance(clf, float):
                out[:, j] = clf
            else:
                classes = list(clf.classes_)
                out[:, j] = clf.predict_proba(X)[:, classes.index(1)]
        return out

    def _accuracy(self, proba: FloatArray, y: FloatArray, obs: NDArray[np.bool_]) -> float:
        if not obs.any():
            return float("nan")
        hits = (proba >= 0.5) == (y == 1.0)
        return float(hits[obs].mean())

    def fit(
        self,
        X: ArrayLike,
        Y: ArrayLike,
        *,
        X_val: ArrayLike | None = None,
        Y_val: ArrayLike | None = None,
        models: Sequence[str] | None = None,
    ) -> Self:
        """Fit the bootstrap ensemble.

        Args:
            X: ``(n, d)`` training embeddings.
            Y: ``(n, K)`` observed quality per model in [0, 1] (NaN: not observed).
            X_val: validation embeddings; each member is weighted by its element-wise accuracy
                (probability rounded at 0.5) on the true validation labels ``Y_val``. Without
                them each member is weighted by its accuracy on its out-of-bag training rows.
            Y_val: validation labels, same layout as ``Y``.
            models: names of the ``K`` models (default ``model_0``, ``model_1``...).

        Returns:
            self
        """
        self._validate_params()
        Xc = check_embeddings(X, owner=type(self).__name__)
        raw = _labels(Y, Xc.shape[0], type(self).__name__)
        K = raw.shape[1]
        names = [f"model_{j}" for j in range(K)] if models is None else [str(m) for m in models]
        if len(names) != K:
            raise DataError(f"Got {len(names)} model names for {K} label columns.")
        obs = ~np.isnan(raw)
        y = np.where(obs, (raw >= self.threshold).astype(np.float64), np.nan)
        if (X_val is None) != (Y_val is None):
            raise DataError("Give both X_val and Y_val, or neither.")
        val: tuple[FloatArray, FloatArray, NDArray[np.bool_]] | None = None
        if X_val is not None and Y_val is not None:
            Xv = check_embeddings(X_val, n_features=Xc.shape[1], owner=type(self).__name__)
            rv = _labels(Y_val, Xv.shape[0], type(self).__name__)
            if rv.shape[1] != K:
                raise DataError(f"Y_val has {rv.shape[1]} columns, Y has {K}.")
            ov = ~np.isnan(rv)
            val = (Xv, np.where(ov, (rv >= self.threshold).astype(np.float64), np.nan), ov)
        counts = obs.sum(axis=0)
        self.base_rate_ = np.where(counts > 0, np.nansum(y, axis=0) / np.maximum(counts, 1), 0.5)
        rng = np.random.default_rng(self.random_state)
        n = Xc.shape[0]
        members: list[_Member] = []
        weights = np.empty(self.n_bootstrap)
        for u in range(self.n_bootstrap):
            idx = rng.integers(0, n, size=n)
            member = self._fit_member(Xc[idx], y[idx], obs[idx], rng)
            if val is not None:
                weights[u] = self._accuracy(self._member_proba(member, val[0]), val[1], val[2])
            else:
                oob = np.setdiff1d(np.arange(n), idx)
                weights[u] = (
                    self._accuracy(self._member_proba(member, Xc[oob]), y[oob], obs[oob])
                    if oob.size
                    else float("nan")
                )
            members.append(member)
        weights = np.nan_to_num(weights, nan=0.0)
        self.weights_ = weights if weights.sum() > 0 else np.ones(self.n_bootstrap)
        self.estimators_ = members
        self.models_ = names
        self.n_features_in_ = Xc.shape[1]
        return self

    # --------------------------------------------------------------- prediction
    def _check(self, X: ArrayLike) -> FloatArray:
        if not hasattr(self, "estimators_"):
            raise NotFittedError(
                "This SuccessPredictor instance is not fitted yet. Call 'fit' first."
            )
        return check_embeddings(
            X, n_features=self.n_features_in_, owner=type(self).__name__, allow_1d=True
        )

    def predict_distribution(self, X: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Weighted ensemble mean and (unweighted) standard deviation, each ``(n, K)``."""
        Xc = self._check(X)
        stack = np.stack([self._member_proba(m, Xc) for m in self.estimators_])
        w = self.weights_ / self.weights_.sum()
        mean = np.tensordot(w, stack, axes=1)
        return np.clip(mean, 0.0, 1.0), stack.std(axis=0)

    def predict_proba(self, X: ArrayLike) -> FloatArray:
        """Weighted mean success probability ``(n, K)``; columns follow ``models_``."""
        return self.predict_distribution(X)[0]

    def predict_robust(self, X: ArrayLike, alpha: float | None = None) -> FloatArray:
        """Robust score ``clip(p + alpha * sigma, 0, 1)`` (``alpha`` defaults to the parameter)."""
        mean, std = self.predict_distribution(X)
        a = self.alpha if alpha is None else float(alpha)
        return np.clip(mean + a * std, 0.0, 1.0)
