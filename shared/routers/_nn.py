"""The BaRP policy network in numpy: forward pass, hand-written gradients, and Adam.

The network is tiny (a preference MLP, a linear or one-hidden-layer head, one optional cost term per
model), so numpy with explicit gradients trains it in seconds, deterministically, without torch.

Layout, for a prompt embedding ``x`` (d,) and preference features ``w = (w_q, w_c)``::

    phi   = relu(w @ P1 + pb1) @ P2 + pb2                       # preference encoder, (p,)
    z     = [x ; phi]                                           # (d + p,)
    g     = z @ W + b                          (head="linear")
          = relu(z @ H1 + hb1) @ W + b         (head="mlp")
    logit = g                                                   (factored=False, g has K outputs)
          = kappa * (w_q * a - w_c * softplus(s)),  [a, s] = g  (factored=True, g has 2K outputs)

The factored form is the shape of the entropy-regularized optimum ``pi ~ exp(r / beta)`` with
``r = w_q q - w_c c~``: ``a`` plays a quality score and ``softplus(s) >= 0`` a calibrated price per
model, ``kappa = 1 / beta``. Raising ``w_c`` then lowers the logits of the models the policy has
learned to be expensive, for every prompt (see docs/barp.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
Params = dict[str, FloatArray]

__all__ = ["Adam", "Cache", "backward", "forward", "head_outputs", "init_params", "log_softmax"]


def init_params(
    rng: np.random.Generator,
    n_features: int,
    n_models: int,
    *,
    head: str,
    pref_hidden: int,
    pref_dim: int,
    hidden: int,
    factored: bool,
) -> Params:
    """Initial weights: He-scaled hidden layers, zero output layer (a uniform starting policy)."""
    params: Params = {
        "P1": rng.normal(0.0, np.sqrt(2.0 / 2.0), size=(2, pref_hidden)),
        "pb1": np.zeros(pref_hidden),
        "P2": rng.normal(0.0, np.sqrt(2.0 / pref_hidden), size=(pref_hidden, pref_dim)),
        "pb2": np.zeros(pref_dim),
    }
    width = n_features + pref_dim
    if head == "mlp":
        params["H1"] = rng.normal(0.0, np.sqrt(2.0 / width), size=(width, hidden))
        params["hb1"] = np.zeros(hidden)
        width = hidden
    outputs = 2 * n_models if factored else n_models
    params["W"] = np.zeros((width, outputs))
    params["b"] = np.zeros(outputs)
    return params


@dataclass
class Cache:
    """Intermediate values of a forward pass, kept for :func:`backward`."""

    X: FloatArray
    W2: FloatArray
    a1: FloatArray
    z: FloatArray
    hidden: FloatArray | None = None
    kappa: float = 1.0
    factored: FloatArray | None = None  # the head outputs [a, s] when factored


def _softplus(v: FloatArray) -> FloatArray:
    return np.asarray(np.logaddexp(0.0, v))


def _sigmoid(v: FloatArray) -> FloatArray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * v)))


def forward(
    params: Params, X: FloatArray, W2: FloatArray, kappa: float = 1.0, *, factored: bool = False
) -> tuple[FloatArray, Cache]:
    """Logits ``(n, K)`` for embeddings ``X (n, d)`` and preference features ``W2 (n, 2)``."""
    a1 = np.maximum(W2 @ params["P1"] + params["pb1"], 0.0)
    phi = a1 @ params["P2"] + params["pb2"]
    z = np.concatenate([X, phi], axis=1)
    hidden = None
    top = z
    if "H1" in params:
        hidden = np.maximum(z @ params["H1"] + params["hb1"], 0.0)
        top = hidden
    out = top @ params["W"] + params["b"]
    cache = Cache(X=X, W2=W2, a1=a1, z=z, hidden=hidden, kappa=kappa)
    if not factored:
        return out, cache
    K = out.shape[1] // 2
    cache.factored = out
    logits = kappa * (W2[:, :1] * out[:, :K] - W2[:, 1:2] * _softplus(out[:, K:]))
    return logits, cache


def head_outputs(cache: Cache) -> tuple[FloatArray, FloatArray]:
    """The factored head's quality scores ``a`` and prices ``softplus(s)``, each ``(n, K)``."""
    if cache.factored is None:
        raise ValueError("the head is not factored")
    K = cache.factored.shape[1] // 2
    return cache.factored[:, :K], _softplus(cache.factored[:, K:])


def backward(
    params: Params,
    cache: Cache,
    dlogits: FloatArray,
    d_quality: FloatArray | None = None,
    d_price: FloatArray | None = None,
) -> Params:
    """Gradients of a loss with respect to every parameter, given ``d loss / d logits``.

    ``d_quality`` / ``d_price`` add gradients with respect to the factored head's quality scores
    and prices (the auxiliary regression on revealed outcomes).
    """
    grads: Params = {}
    if cache.factored is not None:
        k, wq, wc = cache.kappa, cache.W2[:, :1], cache.W2[:, 1:2]
        K = cache.factored.shape[1] // 2
        da = k * wq * dlogits
        dp = -k * wc * dlogits
        if d_quality is not None:
            da = da + d_quality
        if d_price is not None:
            dp = dp + d_price
        dlogits = np.concatenate([da, dp * _sigmoid(cache.factored[:, K:])], axis=1)
    top = cache.z if cache.hidden is None else cache.hidden
    grads["W"] = top.T @ dlogits
    grads["b"] = dlogits.sum(axis=0)
    dtop = dlogits @ params["W"].T
    if cache.hidden is not None:
        dpre = dtop * (cache.hidden > 0)
        grads["H1"] = cache.z.T @ dpre
        grads["hb1"] = dpre.sum(axis=0)
        dz = dpre @ params["H1"].T
    else:
        dz = dtop
    d = cache.X.shape[1]
    dphi = dz[:, d:]
    grads["P2"] = cache.a1.T @ dphi
    grads["pb2"] = dphi.sum(axis=0)
    da1 = (dphi @ params["P2"].T) * (cache.a1 > 0)
    grads["P1"] = cache.W2.T @ da1
    grads["pb1"] = da1.sum(axis=0)
    return grads


def log_softmax(logits: FloatArray) -> FloatArray:
    """Row-wise log-softmax, numerically stable."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return np.asarray(shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)))


class Adam:
    """Adam with global-norm gradient clipping; its state is plain arrays (persistable).

    Examples:
        >>> import numpy as np
        >>> p = {"w": np.array([1.0])}
        >>> opt = Adam(p, learning_rate=0.1)
        >>> opt.step(p, {"w": np.array([2.0])})
        >>> round(float(p["w"][0]), 3)
        0.9
    """

    def __init__(
        self,
        params: Params,
        *,
        learning_rate: float,
        clip_norm: float | None = None,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
    ) -> None:
        self.learning_rate = learning_rate
        self.clip_norm = clip_norm
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, params: Params, grads: Params) -> None:
        """Update ``params`` in place from ``grads`` (a loss to minimize)."""
        if self.clip_norm is not None:
            norm = float(np.sqrt(sum(float(np.sum(g * g)) for g in grads.values())))
            if norm > self.clip_norm:
                scale = self.clip_norm / norm
                grads = {k: g * scale for k, g in grads.items()}
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        lr = self.learning_rate * np.sqrt(1.0 - b2**self.t) / (1.0 - b1**self.t)
        for k, g in grads.items():
            self.m[k] = b1 * self.m[k] + (1.0 - b1) * g
            self.v[k] = b2 * self.v[k] + (1.0 - b2) * g * g
            params[k] -= lr * self.m[k] / (np.sqrt(self.v[k]) + self.eps)
