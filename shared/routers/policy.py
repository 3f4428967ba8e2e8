"""BaRP: one preference-conditioned routing policy learned from bandit feedback.

``pi(model | x, w) = softmax(g([x ; phi(w)]))`` where ``phi`` is a small MLP on the preference
weights ``w = (w_q, w_c)`` and ``g`` a linear or one-hidden-layer head; by default the head is
factored as ``(w_q * a_k - w_c * softplus(s_k)) / beta`` (a quality score and a learned
non-negative price per model, the form of the entropy-regularized optimum). The reward of a call is BaRP's scalarized
``r = w_q * q - w_c * min(c / tau, 1)`` with ``tau`` the 95th percentile of training costs. The policy
is trained by REINFORCE with a baseline and an entropy bonus, with Adam and gradient clipping, in
numpy (no torch). Three ways to learn:

* :meth:`BaRPRouter.fit` uses a full table only as a simulator (``feedback="bandit"``: sample a
  preference and a model from the policy, reveal only that outcome) or trains on the exact
  expected reward over every model (``feedback="full"``);
* :meth:`BaRPRouter.fit_bandit` learns off-policy from logged decisions with propensities;
* :meth:`BaRPRouter.update` takes one importance-weighted step per rated outcome.

See ``docs/barp.md`` for the design choices and the measured figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._base import BaseRouter, RouteScores, calibrate_scale
from .._validation import (
    Constraint,
    Interval,
    Options,
    check_embeddings,
    check_models,
    check_n_features,
    check_table,
    check_update,
    model_index,
)
from ..capabilities import ColdStarts, FitsBandit, FitsTable, LearnsOnline, Persists
from ..exceptions import DataError
from ..outcomes import BanditLog, check_bandit_arrays
from ..preference import Preference, PreferenceLike
from . import _nn
from ._cost import CostHistory, preference_features, scaled_cost, two_weights
from ._policy_steps import PolicyGradientMixin
from .offpolicy import doubly_robust_outcomes

FloatArray = NDArray[np.float64]

__all__ = ["BaRPRouter"]

_POS_FLOAT = Interval(float, 0.0, None, closed="neither")
_POS_INT = Interval(int, 1, None)


class BaRPRouter(
    PolicyGradientMixin, FitsTable, FitsBandit, ColdStarts, LearnsOnline, Persists, BaseRouter
):
    """Preference-conditioned softmax policy trained by REINFORCE from bandit feedback (BaRP).

    Args:
        head: ``"linear"`` (logits linear in ``[x ; phi(w)]``) or ``"mlp"`` (one hidden ReLU layer).
        hidden: width of the hidden layer of the ``"mlp"`` head.
        pref_hidden: hidden width of the preference encoder ``phi``.
        pref_dim: output width of ``phi``.
        factored: logits ``(w_q * a_k - w_c * softplus(s_k)) / beta`` with ``[a, s]`` the head's
            2K outputs (a quality score and a non-negative price per model, the form of the
            entropy-regularized optimum); ``False``: the head's K outputs are the logits.
        n_steps: optimizer steps of :meth:`fit` and :meth:`fit_bandit`.
        batch_size: prompts per step.
        learning_rate: Adam step size.
        beta: entropy bonus weight.
        baseline: ``"loo"`` (leave-one-out: :meth:`fit` samples ``n_actions`` models per prompt and
            preference, and each reward is compared with the mean of the others), ``"batch"``
            (mean reward of the mini-batch) or ``"ema"`` (exponential moving average of past
            rewards, decay ``baseline_decay``). :meth:`fit_bandit` has one logged model per record,
            so ``"loo"`` falls back to ``"batch"`` there; :meth:`update` always uses EMA.
        n_actions: models sampled (and revealed) per prompt and preference in a bandit step.
        baseline_decay: decay of the EMA baseline.
        feedback: ``"bandit"`` (reveal only the sampled model's outcome) or ``"full"`` (exact
            expected-reward gradient over every observed model) for :meth:`fit`.
        off_policy: how :meth:`fit_bandit` corrects for the logging policy: ``"clip"``
            (REINFORCE on the logged action, importance weights clipped at
            ``max_importance_weight``), ``"snips"`` (the same weights self-normalized in each
            mini-batch) or ``"dr"`` (doubly robust: a per-model ridge reward model fills every
            model's outcome on every logged prompt, the logged cell is corrected by its clipped
            importance-weighted residual, and the policy follows the exact expected-reward
            gradient over all models) or ``"dm"`` (the direct method: the same gradient on the
            reward model's predictions alone, a distillation of the reward model into the
            policy; the per-cell residual of ``"dr"`` is unbiased but so noisy that the policy
            fits it). :meth:`update` always clips (``"snips"`` normalizes).
        max_importance_weight: clip of importance weights ``pi / propensity`` (``1 / propensity``
            in the doubly robust correction).
        pessimism: with ``off_policy="dr"`` or ``"dm"``, subtract ``pessimism * sqrt(x' A_k^-1 x)`` (the
            reward model's confidence width for model ``k``) from every estimated quality, so that
            models logged rarely near a prompt are not chosen on optimistic noise.
        reward_alpha: ridge penalty of the reward model of ``"dr"`` and ``"dm"``.
        max_grad_norm: global gradient-norm clip (``None``: no clipping).
        weight_decay: L2 penalty on the weights.
        aux_weight: weight of the auxiliary regression of the factored head on revealed
            outcomes (quality score ``a_k -> q``, price ``softplus(s_k) -> c~``, squared error,
            only for the models whose outcome was revealed); 0 gives pure REINFORCE.
        update_preferences: extra preferences drawn for each :meth:`update` (one rated outcome
            teaches every preference, since its reward can be recomputed for any weights).
        cost_scale: the cost unit ``tau``; ``None`` calibrates it from training costs.
        cost_quantile: quantile of training costs used as ``tau``.
        random_state: seed of initialization, sampling and exploration.

    Examples:
        >>> import numpy as np
        >>> from shared import BaRPRouter
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(60, 5)); Q = rng.uniform(size=(60, 2))
        >>> C = np.tile([0.01, 0.0001], (60, 1))
        >>> router = BaRPRouter(n_steps=50, random_state=0).fit(X, Q, C, models=["big", "small"])
        >>> router.decide(X[0], {"cost": 0.5}).model in {"big", "small"}
        True
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "head": [Options({"linear", "mlp"})],
        "hidden": [_POS_INT],
        "pref_hidden": [_POS_INT],
        "pref_dim": [_POS_INT],
        "factored": ["boolean"],
        "n_steps": [Interval(int, 0, None)],
        "batch_size": [_POS_INT],
        "learning_rate": [_POS_FLOAT],
        "beta": [Interval(float, 0.0, None)],
        "baseline": [Options({"loo", "batch", "ema"})],
        "n_actions": [_POS_INT],
        "baseline_decay": [Interval(float, 0.0, 1.0, closed="left")],
        "feedback": [Options({"bandit", "full"})],
        "off_policy": [Options({"clip", "snips", "dr", "dm"})],
        "pessimism": [Interval(float, 0.0, None)],
        "reward_alpha": [_POS_FLOAT],
        "max_importance_weight": [Interval(float, 1.0, None)],
        "max_grad_norm": [_POS_FLOAT, None],
        "weight_decay": [Interval(float, 0.0, None)],
        "aux_weight": [Interval(float, 0.0, None)],
        "update_preferences": [Interval(int, 0, None)],
        "cost_scale": [_POS_FLOAT, None],
        "cost_quantile": [Interval(float, 0.0, 1.0, closed="right")],
        "random_state": ["random_state"],
    }

    @classmethod
    def _unit_test_params(cls) -> list[dict[str, Any]]:
        return [
            {"n_steps": 5, "batch_size": 16, "random_state": 0},
            {"n_steps": 5, "head": "mlp", "hidden": 4, "feedback": "full", "random_state": 0},
        ]

    def __init__(
        self,
        *,
        head: str = "linear",
        hidden: int = 64,
        pref_hidden: int = 32,
        pref_dim: int = 16,
        factored: bool = True,
        n_steps: int = 2000,
        batch_size: int = 128,
        learning_rate: float = 3e-3,
        beta: float = 0.1,
        baseline: str = "loo",
        n_actions: int = 4,
        baseline_decay: float = 0.99,
        feedback: str = "bandit",
        off_policy: str = "clip",
        max_importance_weight: float = 20.0,
        pessimism: float = 0.0,
        reward_alpha: float = 1.0,
        max_grad_norm: float | None = 5.0,
        weight_decay: float = 0.0,
        aux_weight: float = 1.0,
        update_preferences: int = 8,
        cost_scale: float | None = None,
        cost_quantile: float = 0.95,
        random_state: int | None = None,
    ) -> None:
        self.head = head
        self.hidden = hidden
        self.pref_hidden = pref_hidden
        self.pref_dim = pref_dim
        self.factored = factored
        self.n_steps = n_steps
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.beta = beta
        self.baseline = baseline
        self.n_actions = n_actions
        self.baseline_decay = baseline_decay
        self.feedback = feedback
        self.off_policy = off_policy
        self.max_importance_weight = max_importance_weight
        self.pessimism = pessimism
        self.reward_alpha = reward_alpha
        self.max_grad_norm = max_grad_norm
        self.weight_decay = weight_decay
        self.aux_weight = aux_weight
        self.update_preferences = update_preferences
        self.cost_scale = cost_scale
        self.cost_quantile = cost_quantile
        self.random_state = random_state

    # ------------------------------------------------------------------ set-up
    def _setup(self, models: list[str], X_mean: FloatArray, costs: FloatArray | None) -> None:
        self._validate_params()
        self.rng_ = np.random.default_rng(self.random_state)
        self.models_ = models
        self.n_features_in_ = int(X_mean.shape[0])
        self.x_mean_ = X_mean
        self.params_ = _nn.init_params(
            self.rng_,
            self.n_features_in_,
            len(models),
            head=self.head,
            pref_hidden=self.pref_hidden,
            pref_dim=self.pref_dim,
            hidden=self.hidden,
            factored=self.factored,
        )
        self.optimizer_ = _nn.Adam(
            self.params_, learning_rate=self.learning_rate, clip_norm=self.max_grad_norm
        )
        self.baseline_ = 0.0
        self.n_updates_ = 0
        self.cost_history_ = CostHistory(costs)
        # tau follows the observed costs only when neither the user nor a fit fixed it
        self.tau_online_ = self.cost_scale is None and costs is None
        self._refresh_scale()
        if self.cost_scale is None and costs is not None:
            # every training cost, not only the bounded online history
            self.cost_scale_ = calibrate_scale(costs, self.cost_quantile)

    def _refresh_scale(self) -> None:
        if self.cost_scale is not None:
            self.cost_scale_ = float(self.cost_scale)
        else:
            self.cost_scale_ = self.cost_history_.scale(self.cost_quantile)

    def initialize(self, models: Sequence[str], n_features: int) -> Self:
        """Start from nothing: a near-uniform policy that :meth:`update` then improves.

        Until ``cost_scale`` is set, ``tau`` is re-calibrated from the costs seen so far.
        """
        names = check_models(models, type(self).__name__)
        self._setup(names, np.zeros(check_n_features(n_features, type(self).__name__)), None)
        return self

    def fit(
        self,
        X: ArrayLike,
        quality: ArrayLike,
        cost: ArrayLike | None,
        *,
        models: Sequence[str],
    ) -> Self:
        """Train on a full outcome table used as a simulator (see ``feedback``).

        With ``feedback="bandit"`` each step samples a preference ``w ~ Dirichlet(1, 1)`` per prompt
        and ``n_actions`` models from the current policy, and reveals only those models' outcomes;
        NaN cells are never revealed (a sampled unobserved model is dropped from the step).
        With ``feedback="full"`` the step follows the exact gradient of the expected reward
        over every observed model.

        Args:
            X: prompt embeddings ``(n, d)``.
            quality: ``(n, K)`` quality in [0, 1], NaN where unobserved.
            cost: ``(n, K)`` USD per call, NaN where unobserved.
            models: the K model names, aligned with the columns.
        """
        owner = type(self).__name__
        Xc, names, Q, C, _ = check_table(X, quality, cost, models, owner)
        self._setup(names, Xc.mean(axis=0), C[np.isfinite(C)])
        Ct = scaled_cost(np.nan_to_num(C), self.cost_scale_)
        observed = np.isfinite(Q)
        Qz = np.nan_to_num(Q)
        for idx in self._batches(Xc.shape[0]):
            W2 = self._sample_prefs(idx.size)
            R = W2[:, :1] * Qz[idx] - W2[:, 1:] * Ct[idx]
            obs = observed[idx]
            if self.feedback == "full":

                def grad(logp: FloatArray, R: FloatArray = R, obs: FloatArray = obs) -> FloatArray:
                    pi = np.exp(logp) * obs
                    mean = (pi * R).sum(1, keepdims=True) / np.maximum(
                        pi.sum(1, keepdims=True), 1e-12
                    )
                    return np.asarray(-pi * (R - mean) / R.shape[0])

                targets = (obs.astype(np.float64), Qz[idx], Ct[idx])
                self._step(Xc[idx], W2, grad, targets)
                continue
            m = self.n_actions
            rows = np.repeat(np.arange(idx.size), m)
            Xb, Wb = Xc[idx][rows], W2[rows]
            logits, _ = _nn.forward(
                self.params_, Xb - self.x_mean_, Wb, self._kappa(), factored=self.factored
            )
            pi = np.exp(_nn.log_softmax(logits))
            u = self.rng_.uniform(size=(rows.size, 1))
            arms = np.minimum((pi.cumsum(axis=1) < u).sum(axis=1), pi.shape[1] - 1)
            keep = obs[rows, arms]
            r = np.where(keep, R[rows, arms], 0.0)
            if self.baseline == "loo" and m > 1:
                grp_r = np.where(keep, r, 0.0).reshape(-1, m)
                grp_n = keep.reshape(-1, m).astype(np.float64)
                others = np.maximum(grp_n.sum(1, keepdims=True) - grp_n, 1.0)
                base = ((grp_r.sum(1, keepdims=True) - grp_r) / others).ravel()
                adv = r - base
            else:
                adv = r - self._baseline(r[keep]) if keep.any() else r
            if keep.any():
                k = np.flatnonzero(keep)
                sel = (rows[k], arms[k])
                self._policy_step(
                    Xb[k], Wb[k], arms[k], adv[k], np.ones(k.size), Qz[idx][sel], Ct[idx][sel]
                )
        return self

    def fit_bandit(
        self,
        X: ArrayLike,
        chosen: Sequence[str],
        quality: ArrayLike,
        cost: ArrayLike | None,
        propensity: ArrayLike,
        *,
        models: Sequence[str],
        preferences: ArrayLike | None = None,
    ) -> Self:
        """Learn off-policy from a bandit log (one observed model per prompt).

        Each step re-weights the logged outcomes by ``pi(chosen | x, w) / propensity`` (clipped,
        or self-normalized with ``off_policy="snips"``). Without logged ``preferences`` a fresh
        ``w ~ Dirichlet(1, 1)`` is drawn per record and step: the reward ``w_q q - w_c c~`` of a
        logged outcome can be recomputed for any preference, so one log teaches all of them.

        Args:
            X: prompt embeddings ``(n, d)``.
            chosen: the logged model name per prompt.
            quality: ``(n,)`` observed quality in [0, 1].
            cost: ``(n,)`` observed USD cost.
            propensity: ``(n,)`` probability with which the logger chose ``chosen``.
            models: every model name of the pool (the policy's actions).
            preferences: optional ``(n, 3)`` (quality, cost, latency) weights of the log.
        """
        Xc, log = check_bandit_arrays(
            X, chosen, quality, cost, propensity, models, type(self).__name__,
            preferences=preferences,
        )  # fmt: skip
        cost_filled = log.filled_cost()
        self._setup(list(log.models), Xc.mean(axis=0), cost_filled)
        ct = scaled_cost(cost_filled, self.cost_scale_)
        arms = log.arms
        W_log = (
            None
            if log.preferences is None
            else two_weights(log.preferences[:, 0], log.preferences[:, 1])
        )
        if self.off_policy in ("dr", "dm"):
            return self._fit_reward_model(Xc, log, ct, W_log)
        for idx in self._batches(Xc.shape[0]):
            W2 = W_log[idx] if W_log is not None else self._sample_prefs(idx.size)
            r = W2[:, 0] * log.quality[idx] - W2[:, 1] * ct[idx]
            w = self._importance(Xc[idx], W2, arms[idx], log.propensity[idx])
            b = self._baseline(r, w)
            self._policy_step(Xc[idx], W2, arms[idx], r - b, w, log.quality[idx], ct[idx])
        return self

    def _fit_reward_model(
        self, Xc: FloatArray, log: BanditLog, ct: FloatArray, W_log: FloatArray | None
    ) -> Self:
        """Exact-gradient policy steps on every model's pessimistic outcome estimates.

        ``"dr"``: the reward model corrected by the importance-weighted residual of the logged
        cell; ``"dm"``: the reward model alone.
        """
        from .bandits import LinUCBRouter  # the reward model: per-model ridge on [x ; 1]

        models = list(log.models)
        cost = log.filled_cost()
        reward = LinUCBRouter(alpha=self.reward_alpha, cost_scale=self.cost_scale_).fit_bandit(
            Xc, list(log.chosen), log.quality, cost, log.propensity, models=models
        )
        scores = reward.scores(Xc)
        assert scores.quality is not None and scores.cost is not None
        doubt = self.pessimism * reward.confidence_width(Xc)
        clip = self.max_importance_weight
        arms = log.arms
        q_low = scores.quality - doubt
        c_hat = scaled_cost(scores.cost, self.cost_scale_)
        Q_dr, C_dr = q_low, c_hat
        if self.off_policy == "dr":
            # pessimism after the correction, which would otherwise cancel it in expectation
            Q_dr = doubly_robust_outcomes(
                scores.quality, arms, log.quality, log.propensity, max_weight=clip
            )
            Q_dr -= doubt
            C_dr = doubly_robust_outcomes(c_hat, arms, ct, log.propensity, max_weight=clip)
        ones = np.ones_like(q_low)
        for idx in self._batches(Xc.shape[0]):
            W2 = W_log[idx] if W_log is not None else self._sample_prefs(idx.size)
            R = W2[:, :1] * Q_dr[idx] - W2[:, 1:] * C_dr[idx]

            def grad(logp: FloatArray, R: FloatArray = R) -> FloatArray:
                pi = np.exp(logp)
                mean = (pi * R).sum(1, keepdims=True)
                return np.asarray(-pi * (R - mean) / R.shape[0])

            # the auxiliary regression distils the (pessimistic) reward model into the head
            self._step(Xc[idx], W2, grad, (ones[idx], q_low[idx], c_hat[idx]))
        return self

    def update(
        self,
        x: ArrayLike,
        model: str,
        quality: float,
        cost: float | None = None,
        *,
        propensity: float = 1.0,
        preference: PreferenceLike | None = None,
    ) -> Self:
        """One importance-weighted policy-gradient step from one rated outcome.

        The step uses the call's preference (quality only when ``None``) plus
        ``update_preferences`` freshly drawn ones, an EMA baseline and clipped importance weights.
        Requires a fitted or :meth:`initialize`-d router.
        """
        xc = self._check_X(x, allow_1d=True)
        if xc.shape[0] != 1:
            raise DataError("update takes one prompt embedding; use fit_bandit for a batch.")
        model_index(self.models_, model)
        q, known_cost, _ = check_update(quality, cost, propensity, type(self).__name__)
        c = 0.0 if known_cost is None else known_cost
        if cost is not None:
            self.cost_history_.add(c)
            if self.tau_online_:
                self._refresh_scale()
        w0 = preference_features(preference if preference is not None else Preference())
        W2 = np.vstack([w0[None, :], self._sample_prefs(self.update_preferences)])
        Xr = np.repeat(xc, W2.shape[0], axis=0)
        arms = np.full(W2.shape[0], self.models_.index(model), dtype=np.intp)
        r = W2[:, 0] * q - W2[:, 1] * float(scaled_cost(c, self.cost_scale_))
        w = self._importance(Xr, W2, arms, np.full(W2.shape[0], float(propensity)))
        b = self.baseline_
        decay = self.baseline_decay
        self.baseline_ = decay * b + (1.0 - decay) * float(r.mean())
        ct = np.full(W2.shape[0], float(scaled_cost(c, self.cost_scale_)))
        self._policy_step(Xr, W2, arms, r - b, w, np.full(W2.shape[0], q), ct)
        return self

    # ------------------------------------------------------------------ routing
    def _route_scores(self, X: FloatArray, preference: Preference, explore: bool) -> RouteScores:
        w = preference_features(preference)
        logits, _ = _nn.forward(
            self.params_,
            X - self.x_mean_,
            np.tile(w, (X.shape[0], 1)),
            self._kappa(),
            factored=self.factored,
        )
        logp = _nn.log_softmax(logits)
        return RouteScores(utility=logp, probabilities=np.exp(logp))

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
        opt = self.optimizer_
        arrays: dict[str, NDArray[Any]] = {"x_mean": self.x_mean_}
        arrays["cost_history"] = self.cost_history_.values
        for k, v in self.params_.items():
            arrays[f"param.{k}"] = v
            arrays[f"adam_m.{k}"] = opt.m[k]
            arrays[f"adam_v.{k}"] = opt.v[k]
        meta = {
            "models": list(self.models_),
            "n_features": self.n_features_in_,
            "cost_scale": self.cost_scale_,
            "tau_online": self.tau_online_,
            "rng_state": self._rng().bit_generator.state,
            "baseline": self.baseline_,
            "n_updates": self.n_updates_,
            "adam_t": opt.t,
            "params": sorted(self.params_),
        }
        return meta, arrays

    def _set_state(self, meta: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> None:
        self.models_ = [str(m) for m in meta["models"]]
        self.n_features_in_ = int(meta["n_features"])
        self.cost_scale_ = float(meta["cost_scale"])
        self.tau_online_ = bool(meta["tau_online"])
        self.baseline_ = float(meta["baseline"])
        self.n_updates_ = int(meta["n_updates"])
        self.x_mean_ = np.asarray(arrays["x_mean"], dtype=np.float64)
        self.cost_history_ = CostHistory(arrays["cost_history"])
        names = [str(k) for k in meta["params"]]
        self.params_ = {k: np.array(arrays[f"param.{k}"], dtype=np.float64) for k in names}
        self.optimizer_ = _nn.Adam(
            self.params_, learning_rate=self.learning_rate, clip_norm=self.max_grad_norm
        )
        self.optimizer_.m = {k: np.array(arrays[f"adam_m.{k}"]) for k in names}
        self.optimizer_.v = {k: np.array(arrays[f"adam_v.{k}"]) for k in names}
        self.optimizer_.t = int(meta["adam_t"])
        self.rng_ = np.random.default_rng(self.random_state)
        if "rng_state" in meta:
            self.rng_.bit_generator.state = dict(meta["rng_state"])
        check_embeddings(self.x_mean_[None, :], n_features=self.n_features_in_, owner="state")
