"""The policy-gradient machinery of :class:`~shared.routers.policy.BaRPRouter` (a private mixin).

One Adam step from ``d loss / d logits`` (REINFORCE with entropy bonus and the auxiliary regression
of the factored head), baselines, importance weights, preference draws and mini-batches.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _nn
from .offpolicy import importance_weights

FloatArray = NDArray[np.float64]

__all__ = ["PolicyGradientMixin"]


def _entropy_grad(logp: FloatArray) -> FloatArray:
    """``d(-H)/d logits`` per row, where ``H = -sum(pi log pi)``."""
    pi = np.exp(logp)
    H = -(pi * logp).sum(axis=1, keepdims=True)
    return np.asarray(pi * (logp + H))


class PolicyGradientMixin:
    """Training steps shared by ``fit``, ``fit_bandit`` and ``update`` of BaRPRouter."""

    params_: _nn.Params
    optimizer_: _nn.Adam
    x_mean_: FloatArray
    rng_: np.random.Generator
    models_: list[str]
    baseline_: float
    n_updates_: int
    beta: float
    factored: bool
    aux_weight: float
    weight_decay: float
    baseline: str
    baseline_decay: float
    batch_size: int
    n_steps: int
    max_importance_weight: float
    off_policy: str

    def _kappa(self) -> float:
        """Logit scale of the factored head: ``1 / beta``, or 100 without entropy bonus."""
        return 1.0 / self.beta if self.beta > 0 else 100.0

    def _sample_prefs(self, n: int) -> FloatArray:
        wc = self.rng_.uniform(0.0, 1.0, size=n)  # Dirichlet(1, 1) on (quality, cost)
        return np.stack([1.0 - wc, wc], axis=1)

    def _step(
        self,
        X: FloatArray,
        W2: FloatArray,
        grad_fn: Any,
        targets: tuple[FloatArray, FloatArray, FloatArray] | None = None,
    ) -> None:
        """One Adam step; ``targets = (mask, quality, scaled cost)`` adds the auxiliary loss."""
        logits, cache = _nn.forward(
            self.params_, X - self.x_mean_, W2, self._kappa(), factored=self.factored
        )
        logp = _nn.log_softmax(logits)
        n = X.shape[0]
        dlogits = grad_fn(logp) + self.beta * _entropy_grad(logp) / n
        d_q = d_p = None
        if targets is not None and self.factored and self.aux_weight > 0:
            mask, q, ct = targets
            a, price = _nn.head_outputs(cache)
            scale = self.aux_weight / max(float(mask.sum()), 1.0)
            d_q = scale * mask * (a - q)
            d_p = scale * mask * (price - ct)
        grads = _nn.backward(self.params_, cache, dlogits, d_q, d_p)
        if self.weight_decay:
            for k in ("W", "H1", "P1", "P2"):
                if k in grads:
                    grads[k] = grads[k] + self.weight_decay * self.params_[k]
        self.optimizer_.step(self.params_, grads)
        self.n_updates_ += 1

    def _baseline(self, r: FloatArray, weights: FloatArray | None = None) -> float:
        if self.baseline != "ema":
            if weights is None:
                return float(r.mean())
            return float((weights * r).sum() / max(weights.sum(), 1e-12))
        b = self.baseline_
        self.baseline_ = self.baseline_decay * b + (1.0 - self.baseline_decay) * float(r.mean())
        return b

    def _batches(self, n: int) -> Any:
        size = min(self.batch_size, n)
        order = self.rng_.permutation(n)
        pos = 0
        for _ in range(self.n_steps):
            if pos + size > n:
                order, pos = self.rng_.permutation(n), 0
            yield order[pos : pos + size]
            pos += size

    # ------------------------------------------------------------------ learning

    def _policy_step(
        self,
        X: FloatArray,
        W2: FloatArray,
        arms: NDArray[np.intp],
        adv: FloatArray,
        w: FloatArray,
        q: FloatArray,
        ct: FloatArray,
    ) -> None:
        """REINFORCE step on revealed outcomes ``(arm, q, c~)`` with weights and advantages."""
        onehot = np.zeros((X.shape[0], len(self.models_)))
        onehot[np.arange(X.shape[0]), arms] = 1.0
        coef = (w * adv)[:, None] / X.shape[0]

        def grad(logp: FloatArray) -> FloatArray:
            return np.asarray(-coef * (onehot - np.exp(logp)))

        self._step(X, W2, grad, (onehot, onehot * q[:, None], onehot * ct[:, None]))

    def _importance(
        self, X: FloatArray, W2: FloatArray, arms: NDArray[np.intp], propensity: FloatArray
    ) -> FloatArray:
        logits, _ = _nn.forward(
            self.params_, X - self.x_mean_, W2, self._kappa(), factored=self.factored
        )
        pi_a = np.exp(_nn.log_softmax(logits)[np.arange(X.shape[0]), arms])
        return importance_weights(
            np.minimum(pi_a, 1.0),
            propensity,
            max_weight=self.max_importance_weight,
            self_normalize=self.off_policy == "snips",
        )
