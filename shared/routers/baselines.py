"""Baseline routers: k nearest neighbours, a per-model MLP, uniform random and a fixed model.

They share :class:`~shared.RidgeRouter`'s ``fit(X, quality, cost, *, models)`` so benchmarks can
put them side by side. kNN and MLP predict quality and cost per model and decide by
``w_q * q̂ - w_c * ĉ / cost_scale_``; :class:`RandomRouter` picks uniformly (propensity ``1/K``);
:class:`FixedRouter` always picks one model.

Examples:
    >>> import numpy as np
    >>> from shared import FixedRouter, KNNRouter, RandomRouter
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(50, 4)); Q = np.column_stack([X[:, 0] > 0, X[:, 0] <= 0]) * 1.0
    >>> C = np.full((50, 2), 0.01)
    >>> KNNRouter(k=5).fit(X, Q, C, models=["a", "b"]).predict([[3.0, 0, 0, 0]]).tolist()
    ['a']
    >>> RandomRouter(random_state=0).fit(X, Q, C, models=["a", "b"]).decide(X[0]).propensity
    0.5
    >>> FixedRouter(model="b").fit(X, Q, C, models=["a", "b"]).predict(X[:2]).tolist()
    ['b', 'b']
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._base import BaseRouter, RouteScores, calibrate_scale, scalarize
from .._validation import (
    Interval,
    Options,
    check_embeddings,
    check_models,
    check_outcome_arrays,
    is_layer_sizes,
    model_index,
)
from ..capabilities import FitsTable, LearnsLatency, Persists
from ..exceptions import InvalidParameterError
from ..preference import Preference

FloatArray = NDArray[np.float64]

__all__ = ["FixedRouter", "KNNRouter", "MLPRouter", "RandomRouter"]


def _column_means(M: FloatArray, default: float) -> FloatArray:
    """Mean of each column over finite cells, ``default`` for an empty column."""
    obs = np.isfinite(M)
    counts = obs.sum(axis=0)
    sums = np.where(obs, M, 0.0).sum(axis=0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), default)


class _TableRouter(FitsTable, Persists, BaseRouter):
    """Common ``fit`` prologue: validated ``(X, Q, C)``, ``models_`` and ``cost_scale_``."""

    cost_scale: float | None

    def _prepare(
        self,
        X: ArrayLike,
        quality: ArrayLike | None,
        cost: ArrayLike | None,
        models: Sequence[str],
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Validate and record models, width and cost unit; ``quality=None`` means unobserved."""
        self._validate_params()
        owner = type(self).__name__
        names = check_models(models, owner)
        Xc = check_embeddings(X, owner=owner)
        if quality is None:
            quality = np.full((Xc.shape[0], len(names)), np.nan)
        Q, C, _ = check_outcome_arrays(quality, cost, None, (Xc.shape[0], len(names)), owner)
        self.models_ = names
        self.n_features_in_ = int(Xc.shape[1])
        self.cost_scale_ = float(self.cost_scale or calibrate_scale(C[np.isfinite(C)]))
        self.rng_ = np.random.default_rng(getattr(self, "random_state", None))
        return Xc, Q, C

    def _base_meta(self) -> dict[str, Any]:
        return {
            "models": list(self.models_),
            "n_features_in": self.n_features_in_,
            "cost_scale": self.cost_scale_,
        }

    def _set_base(self, meta: Mapping[str, Any]) -> None:
        self.models_ = list(meta["models"])
        self.n_features_in_ = int(meta["n_features_in"])
        self.cost_scale_ = float(meta["cost_scale"])


class KNNRouter(LearnsLatency, _TableRouter):
    """Predict each model's quality, cost (and latency, when given) as the mean over the ``k``
    nearest training prompts.

    Args:
        k: number of neighbours.
        metric: ``"cosine"`` (similarity of L2-normalized rows) or ``"euclidean"``.
        cost_scale: fixed cost unit; default: 95th percentile of the training costs.
        weights: ``"uniform"`` (plain neighbour means) or ``"similarity"`` (means weighted by
            each neighbour's cosine similarity, clipped at 0; with ``metric="cosine"`` only).
            Wide similarity-weighted neighbourhoods (``k`` of 80 to 160) shrink the predictions
            toward the models' means, which helped on the shared tables' validation splits.

    Unobserved cells are skipped in the means; a model never observed among the neighbours gets
    its training mean. Fitted with ``latency=``, it scores a preference's latency weight in units
    of ``latency_scale_`` (the 95th percentile of the training latencies).
    """

    _parameter_constraints = {  # noqa: RUF012
        "k": [Interval(int, 1, None)],
        "metric": [Options(("cosine", "euclidean"))],
        "cost_scale": [None, Interval(float, 0, None, closed="neither")],
        "weights": [Options(("uniform", "similarity"))],
    }

    _nan_arrays = frozenset({"quality", "cost", "latency"})

    @classmethod
    def _unit_test_params(cls) -> list[dict[str, Any]]:
        return [{"k": 3}, {"k": 3, "metric": "euclidean"}, {"k": 3, "weights": "similarity"}]

    def __init__(
        self,
        *,
        k: int = 40,
        metric: str = "cosine",
        cost_scale: float | None = None,
        weights: str = "uniform",
    ):
        self.k = k
        self.metric = metric
        self.cost_scale = cost_scale
        self.weights = weights

    def fit(
        self,
        X: ArrayLike,
        quality: ArrayLike,
        cost: ArrayLike | None,
        *,
        models: Sequence[str],
        latency: ArrayLike | None = None,
    ) -> Self:
        """Store the training table (``X`` rows, quality, cost and optional latency per model).

        Raises:
            InvalidParameterError: ``weights="similarity"`` with ``metric="euclidean"``.
        """
        Xc, Q, C = self._prepare(X, quality, cost, models)
        if self.weights == "similarity" and self.metric != "cosine":
            raise InvalidParameterError('KNNRouter: weights="similarity" needs metric="cosine".')
        _, _, L = check_outcome_arrays(Q, None, latency, Q.shape, type(self).__name__)
        self.X_train_ = self._normalize(Xc)
        self.quality_train_ = Q
        self.cost_train_ = C
        self.latency_train_ = L
        if L is not None:
            self.latency_scale_ = calibrate_scale(L[np.isfinite(L)])
        return self

    @property
    def predicts_latency(self) -> bool:
        """Whether it was fitted with latencies."""
        return getattr(self, "latency_train_", None) is not None

    def _normalize(self, X: FloatArray) -> FloatArray:
        if self.metric != "cosine":
            return X
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        return np.asarray(X / np.maximum(norms, 1e-12), dtype=np.float64)

    def predict_outcomes(self, X: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Neighbour-mean quality and cost, each ``(n_samples, n_models)``."""
        q, c, _ = self._neighbour_means(self._check_X(X, allow_1d=True))
        return q, c

    def _neighbour_means(self, X: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray | None]:
        """Neighbour means of quality, cost and latency, 1,024 prompts at a time."""
        parts = [self._chunk_means(X[i : i + 1024]) for i in range(0, max(len(X), 1), 1024)]
        lat = None if parts[0][2] is None else np.vstack([p[2] for p in parts])  # type: ignore[misc]
        return np.vstack([p[0] for p in parts]), np.vstack([p[1] for p in parts]), lat

    def _chunk_means(self, X: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray | None]:
        Xc = self._normalize(X)
        ref = self.X_train_
        if self.metric == "cosine":
            dist = -(Xc @ ref.T)
        else:
            dist = (Xc * Xc).sum(1)[:, None] - 2.0 * Xc @ ref.T + (ref * ref).sum(1)[None, :]
        k = min(self.k, ref.shape[0])
        nn = np.argpartition(dist, k - 1, axis=1)[:, :k]
        if self.weights == "similarity":
            w = np.maximum(-np.take_along_axis(dist, nn, axis=1), 0.0)
            w = np.where(w.sum(axis=1, keepdims=True) > 0, w, 1.0)[:, :, None]
        else:
            w = np.ones((*nn.shape, 1))
        out = []
        latency = getattr(self, "latency_train_", None)
        for M in (self.quality_train_, self.cost_train_, latency):
            if M is None:
                continue
            vals = M[nn]  # (n, k, K)
            obs = np.isfinite(vals)
            sums = (w * np.where(obs, vals, 0.0)).sum(axis=1)
            counts = (w * obs).sum(axis=1)
            fallback = _column_means(M, 0.0)[None, :]
            out.append(np.where(counts > 0, sums / np.where(counts > 0, counts, 1.0), fallback))
        return out[0], out[1], out[2] if latency is not None else None

    def _route_scores(self, X: FloatArray, preference: Preference, explore: bool) -> RouteScores:
        q, c, lat = self._neighbour_means(X)
        scale = getattr(self, "latency_scale_", 1.0)
        utility = scalarize(preference, q, c, self.cost_scale_, lat, scale)
        return RouteScores(utility=utility, quality=q, cost=c, latency=lat)

    def _get_state(self) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
        arrays = {"X": self.X_train_, "quality": self.quality_train_, "cost": self.cost_train_}
        meta = self._base_meta()
        if self.latency_train_ is not None:
            arrays["latency"] = self.latency_train_
            meta["latency_scale"] = self.latency_scale_
        return meta, arrays

    def _set_state(self, meta: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> None:
        self._set_base(meta)
        self.X_train_ = np.asarray(arrays["X"], dtype=np.float64)
        self.quality_train_ = np.asarray(arrays["quality"], dtype=np.float64)
        self.cost_train_ = np.asarray(arrays["cost"], dtype=np.float64)
        self.latency_train_ = None
        if "latency" in arrays:
            self.latency_train_ = np.asarray(arrays["latency"], dtype=np.float64)
            self.latency_scale_ = float(meta["latency_scale"])


class MLPRouter(_TableRouter):
    """One scikit-learn ``MLPRegressor`` per model predicting quality (RouterBench's MLP router).

    Training uses scikit-learn (imported in ``fit``); prediction is a numpy forward pass over the
    stored ``coefs_``/``intercepts_`` arrays, so a saved router needs no pickle. Cost is each
    model's mean training cost, or a second MLP per model with ``predict_cost=True``.

    Args:
        hidden_layer_sizes: hidden widths.
        activation: ``"relu"`` or ``"tanh"``.
        learning_rate_init: Adam step size.
        max_iter: training epochs.
        l2: L2 penalty (scikit-learn's ``alpha``).
        predict_cost: regress cost too instead of the per-model mean.
        cost_scale: fixed cost unit; default: 95th percentile of the training costs.
        random_state: seed of the weight initialization and batching.
    """

    _parameter_constraints = {  # noqa: RUF012
        "hidden_layer_sizes": [is_layer_sizes],
        "activation": [Options(("relu", "tanh"))],
        "learning_rate_init": [Interval(float, 0, None, closed="neither")],
        "max_iter": [Interval(int, 1, None)],
        "l2": [Interval(float, 0, None, closed="left")],
        "predict_cost": ["boolean"],
        "cost_scale": [None, Interval(float, 0, None, closed="neither")],
        "random_state": ["random_state"],
    }

    @classmethod
    def _unit_test_params(cls) -> list[dict[str, Any]]:
        return [{"hidden_layer_sizes": (4,), "max_iter": 5, "random_state": 0}]

    def __init__(
        self,
        *,
        hidden_layer_sizes: tuple[int, ...] = (100,),
        activation: str = "relu",
        learning_rate_init: float = 1e-3,
        max_iter: int = 200,
        l2: float = 1e-4,
        predict_cost: bool = False,
        cost_scale: float | None = None,
        random_state: int | None = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.l2 = l2
        self.predict_cost = predict_cost
        self.cost_scale = cost_scale
        self.random_state = random_state

    def _train(self, X: FloatArray, y: FloatArray, seed: int) -> list[FloatArray]:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPRegressor

        net = MLPRegressor(
            hidden_layer_sizes=tuple(self.hidden_layer_sizes),
            activation=self.activation,
            learning_rate_init=self.learning_rate_init,
            max_iter=self.max_iter,
            alpha=self.l2,
            random_state=seed,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            net.fit(X, y)
        return [np.asarray(a, dtype=np.float64) for a in (*net.coefs_, *net.intercepts_)]

    def fit(
        self, X: ArrayLike, quality: ArrayLike, cost: ArrayLike | None, *, models: Sequence[str]
    ) -> Self:
        """Train one network per model on the rows where that model was observed."""
        Xc, Q, C = self._prepare(X, quality, cost, models)
        seeds = self.rng_.integers(0, 2**31 - 1, size=2 * len(self.models_))
        self.quality_nets_: list[list[FloatArray]] = []
        self.cost_nets_: list[list[FloatArray]] = []
        self.mean_quality_ = _column_means(Q, 0.5)
        self.mean_cost_ = _column_means(C, 0.0)
        for k in range(len(self.models_)):
            for M, nets, seed in (
                (Q, self.quality_nets_, seeds[k]),
                (C, self.cost_nets_, seeds[-k - 1]),
            ):
                if M is C and not self.predict_cost:
                    continue
                obs = np.isfinite(M[:, k])
                nets.append(self._train(Xc[obs], M[obs, k], int(seed)) if obs.sum() >= 2 else [])
        return self

    def _forward(self, net: list[FloatArray], X: FloatArray, default: float) -> FloatArray:
        if not net:
            return np.full(X.shape[0], default)
        layers = len(net) // 2
        h = X
        for i in range(layers):
            h = h @ net[i] + net[layers + i]
            if i < layers - 1:
                h = np.maximum(h, 0.0) if self.activation == "relu" else np.tanh(h)
        return np.asarray(h[:, 0], dtype=np.float64)

    def predict_outcomes(self, X: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Predicted quality (clipped to [0, 1]) and cost (>= 0), each ``(n_samples, n_models)``."""
        Xc = self._check_X(X, allow_1d=True)
        K = len(self.models_)
        q = np.column_stack(
            [self._forward(self.quality_nets_[k], Xc, self.mean_quality_[k]) for k in range(K)]
        )
        if self.predict_cost:
            c = np.column_stack(
                [self._forward(self.cost_nets_[k], Xc, self.mean_cost_[k]) for k in range(K)]
            )
        else:
            c = np.repeat(self.mean_cost_[None, :], Xc.shape[0], axis=0)
        return np.clip(q, 0.0, 1.0), np.maximum(c, 0.0)

    def _route_scores(self, X: FloatArray, preference: Preference, explore: bool) -> RouteScores:
        q, c = self.predict_outcomes(X)
        return RouteScores(utility=scalarize(preference, q, c, self.cost_scale_), quality=q, cost=c)

    def _get_state(self) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
        arrays: dict[str, NDArray[Any]] = {
            "mean_quality": self.mean_quality_,
            "mean_cost": self.mean_cost_,
        }
        layers: dict[str, list[int]] = {"quality": [], "cost": []}
        for label, nets in (("quality", self.quality_nets_), ("cost", self.cost_nets_)):
            for k, net in enumerate(nets):
                layers[label].append(len(net))
                for i, a in enumerate(net):
                    arrays[f"{label}_{k}_{i}"] = a
        return {**self._base_meta(), "layers": layers}, arrays

    def _set_state(self, meta: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> None:
        self._set_base(meta)
        self.mean_quality_ = np.asarray(arrays["mean_quality"], dtype=np.float64)
        self.mean_cost_ = np.asarray(arrays["mean_cost"], dtype=np.float64)
        self.quality_nets_, self.cost_nets_ = [], []
        for label, nets in (("quality", self.quality_nets_), ("cost", self.cost_nets_)):
            for k, count in enumerate(meta["layers"][label]):
                nets.append(
                    [np.asarray(arrays[f"{label}_{k}_{i}"], dtype=np.float64) for i in range(count)]
                )


class RandomRouter(_TableRouter):
    """Pick a candidate uniformly at random (propensity ``1/K``); a floor for every router.

    ``decide`` samples from the uniform probabilities; the greedy paths (``predict``,
    ``route_indices``) take the argmax of uniform random scores, which is also a uniform choice.

    Args:
        random_state: seed.
    """

    _parameter_constraints = {"random_state": ["random_state"]}  # noqa: RUF012

    @classmethod
    def _unit_test_params(cls) -> list[dict[str, Any]]:
        return [{"random_state": 0}]

    def __init__(self, *, random_state: int | None = None) -> None:
        self.random_state = random_state

    cost_scale = None

    def fit(
        self,
        X: ArrayLike,
        quality: ArrayLike | None = None,
        cost: ArrayLike | None = None,
        *,
        models: Sequence[str],
    ) -> Self:
        """Record the models and the embedding width (outcomes are not used)."""
        self._prepare(X, quality, cost, models)
        return self

    def _route_scores(self, X: FloatArray, preference: Preference, explore: bool) -> RouteScores:
        K = len(self.models_)
        utility = self._rng().uniform(size=(X.shape[0], K))
        return RouteScores(utility=utility, probabilities=np.full((X.shape[0], K), 1.0 / K))

    def _get_state(self) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
        return self._base_meta(), {}

    def _set_state(self, meta: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> None:
        self._set_base(meta)


class FixedRouter(_TableRouter):
    """Always route to one model (``model``, or the best mean training quality when ``None``).

    The other models are ranked as fallbacks by their mean training quality.

    Args:
        model: the model to always choose; ``None`` picks the best single model in training.
    """

    _parameter_constraints = {"model": [None, str]}  # noqa: RUF012

    def __init__(self, *, model: str | None = None) -> None:
        self.model = model

    cost_scale = None

    def fit(
        self,
        X: ArrayLike,
        quality: ArrayLike | None = None,
        cost: ArrayLike | None = None,
        *,
        models: Sequence[str],
    ) -> Self:
        """Record the models and pick the fixed one."""
        _, Q, _ = self._prepare(X, quality, cost, models)
        self.mean_quality_ = _column_means(Q, 0.0)
        if self.model is None:
            self.model_ = self.models_[int(np.argmax(self.mean_quality_))]
        else:
            model_index(self.models_, self.model)
            self.model_ = self.model
        return self

    def _route_scores(self, X: FloatArray, preference: Preference, explore: bool) -> RouteScores:
        row = self.mean_quality_ - 2.0
        row = np.where(np.asarray(self.models_) == self.model_, 1.0, row)
        return RouteScores(utility=np.repeat(row[None, :], X.shape[0], axis=0))

    def _get_state(self) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
        return {**self._base_meta(), "model": self.model_}, {"mean_quality": self.mean_quality_}

    def _set_state(self, meta: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> None:
        self._set_base(meta)
        self.model_ = str(meta["model"])
        if self.model_ not in self.models_:
            raise InvalidParameterError(f"Saved fixed model {self.model_!r} is not among models.")
        self.mean_quality_ = np.asarray(arrays["mean_quality"], dtype=np.float64)
