"""TaskRouter: predict the prompt's task, then each model's mean outcome on that task.

On the shared tables most of the learnable per-prompt signal is the task: which benchmark, which
domain, which kind of request. :class:`TaskRouter` fits a multinomial logistic classifier of the
task on the prompt embedding and predicts ``q̂_m(x) = Σ_t P(t | x) · q̄_{t,m}``, where ``q̄_{t,m}``
is model ``m``'s mean quality on task ``t`` shrunk toward its overall mean by ``smoothing``
pseudo-observations (cost likewise). Without task labels it clusters the embeddings (k-means) and
uses the clusters as tasks.

Examples:
    >>> import numpy as np
    >>> from shared.routers import TaskRouter
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(3, 1, (40, 2)), rng.normal(-3, 1, (40, 2))])
    >>> tasks = ["math"] * 40 + ["chat"] * 40
    >>> Q = np.array([[1.0, 0.0]] * 40 + [[0.0, 1.0]] * 40)
    >>> C = np.full((80, 2), 0.01)
    >>> router = TaskRouter().fit(X, Q, C, models=["a", "b"], tasks=tasks)
    >>> router.predict([[3.0, 3.0], [-3.0, -3.0]]).tolist()
    ['a', 'b']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._base import RouteScores, scalarize
from .._validation import Interval
from ..exceptions import DataError
from ..preference import Preference
from .baselines import _TableRouter

FloatArray = NDArray[np.float64]

__all__ = ["TaskRouter"]


def _shrunk_means(M: FloatArray, labels: NDArray[np.intp], n_tasks: int, s: float) -> FloatArray:
    """``(T, K)`` per-task column means over observed cells, shrunk toward the column means."""
    obs = np.isfinite(M)
    Mz = np.where(obs, M, 0.0)
    overall = Mz.sum(axis=0) / np.maximum(obs.sum(axis=0), 1)
    onehot = np.zeros((M.shape[0], n_tasks))
    onehot[np.arange(M.shape[0]), labels] = 1.0
    sums, counts = onehot.T @ Mz, onehot.T @ obs
    return np.asarray((sums + s * overall) / (counts + s), dtype=np.float64)


class TaskRouter(_TableRouter):
    """Predicted-task router: task classifier on the embedding, task-mean outcomes per model.

    Args:
        C: inverse L2 penalty of the multinomial logistic task classifier (scikit-learn's ``C``).
        smoothing: pseudo-observations shrinking each task's mean toward the model's overall mean.
        n_clusters: number of k-means clusters used as tasks when ``fit`` gets no ``tasks``.
        cost_scale: fixed cost unit; default: 95th percentile of the training costs.
        random_state: seed of the k-means clustering.

    The classifier is trained with scikit-learn in ``fit``; routing is a numpy softmax over the
    stored coefficients, so a saved router needs no pickle.
    """

    fit_accepts_tasks: ClassVar[bool] = True

    _parameter_constraints = {  # noqa: RUF012
        "C": [Interval(float, 0, None, closed="neither")],
        "smoothing": [Interval(float, 0, None, closed="left")],
        "n_clusters": [Interval(int, 1, None)],
        "cost_scale": [None, Interval(float, 0, None, closed="neither")],
        "random_state": ["random_state"],
    }

    @classmethod
    def _unit_test_params(cls) -> list[dict[str, Any]]:
        return [{"n_clusters": 3}]

    def __init__(
        self,
        *,
        C: float = 1.0,
        smoothing: float = 5.0,
        n_clusters: int = 16,
        cost_scale: float | None = None,
        random_state: int | None = 0,
    ) -> None:
        self.C = C
        self.smoothing = smoothing
        self.n_clusters = n_clusters
        self.cost_scale = cost_scale
        self.random_state = random_state

    def fit(
        self,
        X: ArrayLike,
        quality: ArrayLike,
        cost: ArrayLike | None,
        *,
        models: Sequence[str],
        tasks: Sequence[str] | None = None,
    ) -> Self:
        """Fit the task classifier and the per-task mean outcomes.

        Args:
            X: ``(n, d)`` prompt embeddings.
            quality: ``(n, K)`` observed quality (NaN where unobserved).
            cost: ``(n, K)`` USD per call, or ``None``.
            models: the ``K`` model names.
            tasks: each prompt's task label; ``None`` (or all empty) clusters the embeddings.

        Raises:
            DataError: ``tasks`` does not have one label per prompt.
        """
        Xc, Q, C = self._prepare(X, quality, cost, models)
        if tasks is not None and len(tasks) != Xc.shape[0]:
            raise DataError(f"TaskRouter: {len(tasks)} task labels for {Xc.shape[0]} prompts.")
        if tasks is None or not any(tasks):
            from sklearn.cluster import KMeans

            k = min(self.n_clusters, Xc.shape[0])
            km = KMeans(n_clusters=k, n_init=3, random_state=self.random_state).fit(Xc)
            names = [f"cluster {i}" for i in range(k)]
            labels = np.asarray(km.labels_, dtype=np.intp)
        else:
            names = sorted({str(t) for t in tasks})
            labels = np.array([names.index(str(t)) for t in tasks], dtype=np.intp)
        T = len(names)
        self.tasks_ = names
        self.coef_ = np.zeros((T, Xc.shape[1]))
        self.intercept_ = np.zeros(T)
        present = np.unique(labels)
        if present.size > 1:
            from sklearn.linear_model import LogisticRegression

            clf = LogisticRegression(C=float(self.C), max_iter=300).fit(Xc, labels)
            coef, icpt = np.asarray(clf.coef_), np.asarray(clf.intercept_)
            if coef.shape[0] == 1:  # two classes: sigmoid as a two-way softmax
                coef, icpt = np.vstack([-coef / 2, coef / 2]), np.array([-icpt[0], icpt[0]]) / 2
            self.intercept_[:] = -1e3  # tasks absent from training are never predicted
            self.coef_[clf.classes_] = coef
            self.intercept_[clf.classes_] = icpt
        else:
            self.intercept_[:] = -1e3
            self.intercept_[present] = 0.0
        s = float(self.smoothing)
        self.task_quality_ = _shrunk_means(Q, labels, T, s)
        self.task_cost_ = _shrunk_means(C, labels, T, s)
        return self

    def task_probabilities(self, X: ArrayLike) -> FloatArray:
        """``(n, T)`` predicted task probabilities; columns follow ``tasks_``."""
        Xc = self._check_X(X, allow_1d=True)
        z = Xc @ self.coef_.T + self.intercept_
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return np.asarray(z / z.sum(axis=1, keepdims=True), dtype=np.float64)

    def predict_outcomes(self, X: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Task-mixture quality and cost, each ``(n_samples, n_models)``."""
        P = self.task_probabilities(X)
        return P @ self.task_quality_, P @ self.task_cost_

    def _route_scores(self, X: FloatArray, preference: Preference, explore: bool) -> RouteScores:
        q, c = self.predict_outcomes(X)
        return RouteScores(utility=scalarize(preference, q, c, self.cost_scale_), quality=q, cost=c)

    def _get_state(self) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
        arrays = {
            "coef": self.coef_,
            "intercept": self.intercept_,
            "task_quality": self.task_quality_,
            "task_cost": self.task_cost_,
        }
        return {**self._base_meta(), "tasks": list(self.tasks_)}, arrays

    def _set_state(self, meta: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> None:
        self._set_base(meta)
        self.tasks_ = [str(t) for t in meta["tasks"]]
        self.coef_ = np.asarray(arrays["coef"], dtype=np.float64)
        self.intercept_ = np.asarray(arrays["intercept"], dtype=np.float64)
        self.task_quality_ = np.asarray(arrays["task_quality"], dtype=np.float64)
        self.task_cost_ = np.asarray(arrays["task_cost"], dtype=np.float64)
