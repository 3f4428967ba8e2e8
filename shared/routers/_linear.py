"""Ridge regression from sufficient statistics: the linear algebra behind the ridge routers.

A :class:`RidgeHeads` object holds, for each of ``K`` models, the statistics of its observed rows
``A = X̃ᵀX̃``, ``b = X̃ᵀy``, ``yy = yᵀy`` and ``n``, where ``X̃`` is the design (the embedding with a
trailing column of ones when an intercept is fitted). The weights solve

    (A + α P) w = b + α P w0

with ``P = diag(1, ..., 1, 1 or 0)`` (the intercept is penalized or not) and ``w0 = (0, ..., 0,
prior)``: ridge shrinking toward a prior mean. With no data and an unpenalized intercept the system
is singular and the weights are exactly ``w0``, so predictions equal the prior.

Member-level prior (``set_strength``): with an unpenalized intercept the solution predicts
``ȳ + wᵀ(x - x̄)`` (the model's mean outcome plus a ridge deviation shrunk to zero). A strength
``s > 0`` replaces the mean ``ȳ`` of the ``n`` observed rows by ``(s * prior + n * ȳ) / (s + n)``:
the prior counts as ``s`` pseudo-observations of the model's mean, so one row moves every
prediction of a model with no other rows by exactly ``1 / (1 + s)`` of the gap (the deviation of a
single row is zero once centred), and the predictive width's mean term ``1/n`` becomes ``1/(n + s)``.

Solves are lazy: adding rows marks a model dirty and the next prediction re-solves only the dirty
models. With ``solver="sherman_morrison"`` the inverse ``(A + αP)⁻¹`` is kept and updated by
rank-one Sherman-Morrison steps when a few rows arrive, which is ``O(p²)`` instead of ``O(p³)``.

Examples:
    >>> import numpy as np
    >>> heads = RidgeHeads(n_models=1, n_columns=3, fit_intercept=True)
    >>> heads.add_rows(0, design(np.array([[1.0, 0.0], [0.0, 1.0]]), True), np.array([1.0, 0.0]))
    >>> heads.weights().shape
    (3, 1)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import LinAlgError, cho_factor, cho_solve, eigh, get_blas_funcs

FloatArray = NDArray[np.float64]

__all__ = ["DEFAULT_ALPHAS", "RidgeHeads", "design", "gcv_scores", "gram", "loo_errors"]

#: Grid searched by ``alpha="cv"`` / ``"gcv"`` when no grid is given.
DEFAULT_ALPHAS: tuple[float, ...] = tuple(float(a) for a in np.logspace(-3, 4, 29))

#: Rank-one Sherman-Morrison steps are used for at most ``p // _SM_RATIO`` new rows at once.
_SM_RATIO = 4


def gram(X: FloatArray, fit_intercept: bool) -> FloatArray:
    """``X̃ᵀX̃`` without building ``X̃`` (symmetric rank-k update: half the flops of ``XᵀX``)."""
    n, d = X.shape
    p = d + int(fit_intercept)
    out = np.empty((p, p))
    syrk = get_blas_funcs("syrk", (X,))
    G = syrk(1.0, np.asfortranarray(X.T), trans=0, lower=0)
    upper = np.triu(G)
    out[:d, :d] = upper + np.triu(upper, 1).T
    if fit_intercept:
        sx = X.sum(axis=0)
        out[:d, d] = sx
        out[d, :d] = sx
        out[d, d] = float(n)
    return out


def design(X: FloatArray, fit_intercept: bool) -> FloatArray:
    """``X`` with a trailing column of ones when ``fit_intercept`` (the design ``X̃``)."""
    if not fit_intercept:
        return X
    out = np.empty((X.shape[0], X.shape[1] + 1), dtype=np.float64)
    out[:, :-1] = X
    out[:, -1] = 1.0
    return out


class RidgeHeads:
    """Per-model ridge regressions kept as sufficient statistics, solved lazily.

    Args:
        n_models: number of models (heads).
        n_columns: width ``p`` of the design (features + 1 with an intercept).
        fit_intercept: whether the last design column is the intercept.
        penalize_intercept: penalize the intercept (toward the prior) like the other weights.
        solver: ``"cholesky"`` (re-factorize dirty models) or ``"sherman_morrison"``.
        noise_prior: variance of one pseudo-observation in the noise estimate
            ``sigma² = (RSS + noise_prior) / (n + 1)``.
    """

    def __init__(
        self,
        n_models: int,
        n_columns: int,
        *,
        fit_intercept: bool,
        penalize_intercept: bool = False,
        solver: str = "cholesky",
        noise_prior: float = 0.25,
    ) -> None:
        p = n_columns
        self.p = p
        self.fit_intercept = fit_intercept
        self.penalize_intercept = penalize_intercept
        self.solver = solver
        self.noise_prior = noise_prior
        self.A = np.zeros((n_models, p, p))
        self.b = np.zeros((n_models, p))
        self.yy = np.zeros(n_models)
        self.n = np.zeros(n_models)
        self.prior = np.zeros(n_models)
        self.strength = np.zeros(n_models)
        self.alpha = np.ones(n_models)
        self.pooled_alpha: float | None = None
        self._version = 0
        self._pooled: tuple[int, FloatArray] | None = None
        self._W = np.zeros((p, n_models))
        self._sigma = np.zeros(n_models)
        self._inv: FloatArray = np.zeros((n_models, p, p))
        self._dirty = np.ones(n_models, dtype=bool)
        self._inv_ok = np.zeros(n_models, dtype=bool)
        self._sm_steps = np.zeros(n_models, dtype=np.int64)

    # ------------------------------------------------------------------ statistics
    @property
    def n_models(self) -> int:
        return int(self.A.shape[0])

    def add_rows(self, k: int, Xt: FloatArray, y: FloatArray) -> None:
        """Add the rows ``(Xt, y)`` to model ``k``'s statistics."""
        self._version += 1
        r = Xt.shape[0]
        if r == 0:
            return
        rank_one = (
            self.solver == "sherman_morrison"
            and bool(self._inv_ok[k])
            and not self._dirty[k]
            and not self._empty_unpenalized(k)  # its stored inverse is only the prior's
            and r <= max(1, self.p // _SM_RATIO)
            and self._sm_steps[k] + r <= self.p  # re-factorize every p steps: bounds drift
        )
        self.A[k] += Xt.T @ Xt
        self.b[k] += Xt.T @ y
        self.yy[k] += float(y @ y)
        self.n[k] += r
        if rank_one:
            self._sm_steps[k] += r
            inv = self._inv[k]
            for row in Xt:
                u = inv @ row
                inv -= np.outer(u, u) / (1.0 + row @ u)
            self._W[:, k] = inv @ self._rhs(k)
            self._sigma[k] = self._noise(k, self._W[:, k])
        else:
            self._dirty[k] = True
            self._inv_ok[k] = False

    def add_stats(self, k: int, A: FloatArray, b: FloatArray, yy: float, n: float) -> None:
        """Add precomputed statistics to model ``k`` (marks it for a full re-solve)."""
        self._version += 1
        self.A[k] += A
        self.b[k] += b
        self.yy[k] += yy
        self.n[k] += n
        self._dirty[k] = True
        self._inv_ok[k] = False

    def set_alpha(self, alpha: FloatArray) -> None:
        """Set per-model penalties (invalidates every cached solve)."""
        self._version += 1
        self.alpha = np.asarray(alpha, dtype=np.float64).copy()
        self._dirty[:] = True
        self._inv_ok[:] = False

    def set_prior(self, prior: FloatArray) -> None:
        """Set per-model prior means of the intercept (invalidates every cached solve)."""
        self._version += 1
        self.prior = np.asarray(prior, dtype=np.float64).copy()
        self._dirty[:] = True

    def set_strength(self, strength: FloatArray) -> None:
        """Set per-model prior strengths of the mean, in pseudo-observations (0: no prior once
        data exists). Only meaningful with a fitted, unpenalized intercept."""
        self._version += 1
        self.strength = np.asarray(strength, dtype=np.float64).copy()
        self._dirty[:] = True
        self._inv_ok[:] = False

    def append(self, prior: float, alpha: float, strength: float = 0.0) -> int:
        """Add an empty model; returns its index."""
        self._version += 1
        p = self.p
        self.A = np.concatenate([self.A, np.zeros((1, p, p))])
        self.b = np.concatenate([self.b, np.zeros((1, p))])
        self.yy = np.append(self.yy, 0.0)
        self.n = np.append(self.n, 0.0)
        self.prior = np.append(self.prior, prior)
        self.strength = np.append(self.strength, strength)
        self.alpha = np.append(self.alpha, alpha)
        self._W = np.concatenate([self._W, np.zeros((p, 1))], axis=1)
        self._sigma = np.append(self._sigma, 0.0)
        self._inv = np.concatenate([self._inv, np.zeros((1, p, p))])
        self._dirty = np.append(self._dirty, True)
        self._inv_ok = np.append(self._inv_ok, False)
        self._sm_steps = np.append(self._sm_steps, 0)
        return self.n_models - 1

    def delete(self, k: int) -> None:
        """Drop model ``k`` (nothing else changes: heads are independent)."""
        self._version += 1
        names = ("A", "b", "yy", "n", "prior", "strength", "alpha", "_sigma", "_inv", "_dirty")
        for name in (*names, "_inv_ok", "_sm_steps"):
            setattr(self, name, np.delete(getattr(self, name), k, axis=0))
        self._W = np.delete(self._W, k, axis=1)

    # ------------------------------------------------------------------ solving
    def _penalty(self, k: int) -> FloatArray:
        pen = np.full(self.p, self.alpha[k])
        if self.fit_intercept and not self.penalize_intercept:
            pen[-1] = 0.0
        return pen

    def _rhs(self, k: int) -> FloatArray:
        rhs: FloatArray = self.b[k].copy()
        if self.fit_intercept and self.penalize_intercept:
            rhs[-1] += self.alpha[k] * self.prior[k]
        return rhs

    def _empty_unpenalized(self, k: int) -> bool:
        return bool(self.n[k] == 0 and self.fit_intercept and not self.penalize_intercept)

    def _noise(self, k: int, w: FloatArray) -> float:
        rss = self.yy[k] - 2.0 * w @ self.b[k] + w @ self.A[k] @ w
        return float(np.sqrt((max(rss, 0.0) + self.noise_prior) / (self.n[k] + 1.0)))

    def _solve(self, k: int, want_inverse: bool, twins: list[int] | None = None) -> None:
        """Solve model ``k`` and the ``twins`` sharing its statistics (same left-hand side)."""
        group = [k, *(twins or [])]
        if self._empty_unpenalized(k):
            for j in group:
                w = np.zeros(self.p)
                w[-1] = self.prior[j]
                self._W[:, j] = w
                self._sigma[j] = float(np.sqrt(self.noise_prior))
                diag = np.full(self.p, 1.0 / self.alpha[j])
                if self.strength[j] > 0:  # the prior's spread of the mean: s pseudo-observations
                    diag[-1] = 1.0 / self.strength[j]
                self._inv[j] = np.diag(diag)
                self._inv_ok[j] = True
                self._dirty[j] = False
            return
        M = self.A[k] + np.diag(self._penalty(k))
        rhs = np.column_stack([self._rhs(j) for j in group])
        inv: FloatArray | None = None
        try:
            factor = cho_factor(M, lower=True, check_finite=False)
            W = cho_solve(factor, rhs, check_finite=False)
            if want_inverse:
                inv = cho_solve(factor, np.eye(self.p), check_finite=False)
        except LinAlgError:  # numerically singular (tiny alpha): least-squares fallback
            inv = np.linalg.pinv(M)
            W = inv @ rhs
        for i, j in enumerate(group):
            self._sm_steps[j] = 0
            self._W[:, j] = W[:, i]
            if want_inverse and inv is not None:
                self._inv[j] = inv
                self._inv_ok[j] = True
            self._sigma[j] = self._noise(j, self._W[:, j])
            self._dirty[j] = False

    def weights(self) -> FloatArray:
        """The ``(p, K)`` weight matrix, re-solving dirty models.

        Dirty models with identical statistics and penalty (every model observed on the same
        rows) share one factorization.
        """
        self._refresh()
        if self.pooled_alpha is not None and self.fit_intercept and not self.penalize_intercept:
            if self._pooled is None or self._pooled[0] != self._version:
                self._pooled = (self._version, self._pooled_weights(float(self.pooled_alpha)))
            return self._pooled[1]
        shrunk = self._shrunk()
        if not shrunk.any():
            return self._W
        W = self._W.copy()
        s, n = self.strength[shrunk], self.n[shrunk]
        mean = self.b[shrunk, -1] / n  # the intercept column of b sums the targets
        W[-1, shrunk] += s * (self.prior[shrunk] - mean) / (s + n)
        return W

    def _refresh(self) -> None:
        """Re-solve the dirty models."""
        if self._dirty.any():
            want_inverse = self.solver == "sherman_morrison"
            dirty = [int(k) for k in np.flatnonzero(self._dirty)]
            while dirty:
                k = dirty.pop(0)
                twins = [
                    j
                    for j in dirty
                    if self.alpha[j] == self.alpha[k]
                    and self.n[j] == self.n[k]
                    and np.array_equal(self.A[j], self.A[k])
                ]
                self._solve(k, want_inverse, twins)
                dirty = [j for j in dirty if j not in twins]

    def _pooled_weights(self, pooled_alpha: float) -> FloatArray:
        """Weights with a slope ``w`` shared by every model (see ``pooled_alpha``).

        ``w`` is the within-model ridge slope of all models' rows (each model's own mean
        removed: fixed effects); model ``k`` predicts ``ȳ_k + wᵀ(x - x̄_k) + v_kᵀ(x - x̄_k)``
        with ``v_k`` its own ridge on the residuals ``y - wᵀx``, and its level at the pooled
        mean prompt ``x̄``, ``ȳ_k + wᵀ(x̄ - x̄_k)``, is shrunk toward its prior by its strength.
        """
        d = self.p - 1
        seen = np.flatnonzero(self.n > 0)
        W = self._W.copy()
        w = np.zeros(d)
        xbar = np.zeros(d)
        if seen.size:
            n = self.n[seen]
            sx = self.A[seen, :d, d]
            sy = self.b[seen, d]
            C = self.A[seen, :d, :d].sum(axis=0) - np.einsum("ki,kj->ij", sx / n[:, None], sx)
            R = self.b[seen, :d].sum(axis=0) - (sx * (sy / n)[:, None]).sum(axis=0)
            M = C + pooled_alpha * np.eye(d)
            try:
                w = cho_solve(cho_factor(M, lower=True, check_finite=False), R, check_finite=False)
            except LinAlgError:
                w = np.linalg.pinv(M) @ R
            xbar = sx.sum(axis=0) / n.sum()
            inv = self.inverse()
            wext = np.append(w, 0.0)
            for k in seen:
                W[:, k] += wext - inv[k] @ (self.A[k] @ wext)
                if self.strength[k] > 0:
                    nk, s = self.n[k], self.strength[k]
                    level = self.b[k, d] / nk + w @ (xbar - self.A[k, :d, d] / nk)
                    W[-1, k] += s * (self.prior[k] - level) / (s + nk)
        for k in np.flatnonzero(self.n == 0):
            W[:d, k] = w
            W[d, k] = self.prior[k] - w @ xbar
        return W

    def _shrunk(self) -> NDArray[np.bool_]:
        """Models whose observed mean is shrunk toward the prior (strength > 0, data seen)."""
        if not self.fit_intercept or self.penalize_intercept:
            return np.zeros(self.n_models, dtype=bool)
        return np.asarray((self.strength > 0) & (self.n > 0), dtype=bool)

    def sigma(self) -> FloatArray:
        """Per-model noise standard deviation (after :meth:`weights`)."""
        self.weights()
        return self._sigma

    def inverse(self) -> FloatArray:
        """``(K, p, p)`` inverses of ``A + αP`` (computed on demand)."""
        self._refresh()
        for k in np.flatnonzero(~self._inv_ok):
            self._solve(int(k), True)
        return self._inv

    def widths(self, Xt: FloatArray) -> FloatArray:
        """``(n, K)`` values ``sqrt(x̃ᵀ (A + αP)⁻¹ x̃)``, the predictive spread per unit noise."""
        inv = self.inverse()
        quad = (np.matmul(inv, Xt.T) * Xt.T[None, :, :]).sum(axis=1).T  # (n, K)
        shrunk = self._shrunk()
        if shrunk.any():  # the mean's variance term 1/n becomes 1/(n + s)
            n = self.n[shrunk]
            quad[:, shrunk] += 1.0 / (n + self.strength[shrunk]) - 1.0 / n
        return np.asarray(np.sqrt(np.maximum(quad, 0.0)), dtype=np.float64)

    # ------------------------------------------------------------------ penalty selection
    def gcv(self, k: int, alphas: FloatArray) -> FloatArray:
        """Generalized cross-validation score of each alpha for model ``k`` (one eigh)."""
        return gcv_scores(
            self.A[k],
            self.b[k][:, None],
            np.array([self.yy[k]]),
            float(self.n[k]),
            alphas,
            fit_intercept=self.fit_intercept,
            penalize_intercept=self.penalize_intercept,
            prior=np.array([self.prior[k]]),
        )

    # ------------------------------------------------------------------ persistence
    def state(self, prefix: str) -> dict[str, NDArray[Any]]:
        """The statistics as named arrays."""
        return {
            f"{prefix}A": self.A,
            f"{prefix}b": self.b,
            f"{prefix}yy": self.yy,
            f"{prefix}n": self.n,
            f"{prefix}prior": self.prior,
            f"{prefix}strength": self.strength,
            f"{prefix}alpha": self.alpha,
        }

    def load(self, prefix: str, arrays: dict[str, NDArray[Any]]) -> None:
        """Restore :meth:`state` (caches are rebuilt lazily)."""
        self._version += 1
        self.A = np.array(arrays[f"{prefix}A"], dtype=np.float64)
        self.b = np.array(arrays[f"{prefix}b"], dtype=np.float64)
        self.yy = np.array(arrays[f"{prefix}yy"], dtype=np.float64)
        self.n = np.array(arrays[f"{prefix}n"], dtype=np.float64)
        self.prior = np.array(arrays[f"{prefix}prior"], dtype=np.float64)
        self.alpha = np.array(arrays[f"{prefix}alpha"], dtype=np.float64)
        if self.A.ndim != 3 or self.A.shape[1] != self.A.shape[2]:
            raise ValueError(f"saved statistics {prefix}A must have shape (K, p, p)")
        K, p = self.A.shape[0], self.A.shape[1]
        saved = arrays.get(f"{prefix}strength")  # absent in files saved before the prior strength
        self.strength = np.zeros(K) if saved is None else np.array(saved, dtype=np.float64)
        vectors = (self.yy, self.n, self.prior, self.strength, self.alpha)
        if self.b.shape != (K, p) or any(v.shape != (K,) for v in vectors):
            raise ValueError(f"saved statistics {prefix}* do not have matching shapes")
        if not (self.alpha > 0).all() or (self.n < 0).any() or (self.yy < 0).any():
            raise ValueError(f"saved statistics {prefix}*: penalty <= 0 or negative counts")
        if (self.strength < 0).any():
            raise ValueError(f"saved statistics {prefix}strength is negative")
        if (np.diagonal(self.A, axis1=1, axis2=2) < 0).any():
            raise ValueError(f"saved statistics {prefix}A has a negative diagonal")
        self.p = p
        self._W = np.zeros((p, K))
        self._sigma = np.zeros(K)
        self._inv = np.zeros((K, p, p))
        self._dirty = np.ones(K, dtype=bool)
        self._inv_ok = np.zeros(K, dtype=bool)
        self._sm_steps = np.zeros(K, dtype=np.int64)


def loo_errors(
    Xt: FloatArray,
    y: FloatArray,
    alphas: FloatArray,
    *,
    fit_intercept: bool,
    penalize_intercept: bool,
    prior: float = 0.0,
) -> FloatArray:
    """Exact leave-one-out mean squared error of ridge for each alpha (one eigendecomposition).

    Uses ``e_loo = (y - ŷ) / (1 - h)`` with the hat diagonal ``h`` from the eigenbasis of the
    (centered, when the intercept is unpenalized) Gram matrix. ``y`` may be ``(r,)`` (returns
    ``(n_alphas,)``) or ``(r, T)`` for ``T`` targets sharing the rows (returns ``(T, n_alphas)``).

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> X = design(rng.normal(size=(30, 3)), True); y = X[:, 0] + rng.normal(size=30)
        >>> loo_errors(X, y, np.array([0.1, 1e6]), fit_intercept=True,
        ...            penalize_intercept=False).argmin()
        np.int64(0)
    """
    r = Xt.shape[0]
    Y = y.reshape(r, -1)
    if r < 2:
        out = np.zeros((Y.shape[1], len(alphas)))
        return out[0] if y.ndim == 1 else out
    if fit_intercept and not penalize_intercept:
        Z = Xt[:, :-1] - Xt[:, :-1].mean(axis=0)
        base = Y.mean(axis=0)
        h0 = 1.0 / r
    else:
        Z = Xt
        base = np.full(Y.shape[1], prior if fit_intercept else 0.0)
        h0 = 0.0
    s, V = eigh(Z.T @ Z, check_finite=False)
    s = np.maximum(s, 0.0)
    U = Z @ V
    rh = U.T @ (Y - base)  # (p', T)
    F = 1.0 / (s[:, None] + np.asarray(alphas)[None, :])  # (p', n_alphas)
    hat = h0 + (U * U) @ F  # (r, n_alphas)
    scale = 1.0 / np.maximum(1.0 - hat, 1e-12)
    out = np.empty((Y.shape[1], len(alphas)))
    for t in range(Y.shape[1]):
        fitted = base[t] + U @ (F * rh[:, t : t + 1])
        loo = (Y[:, t : t + 1] - fitted) * scale
        out[t] = (loo * loo).mean(axis=0)
    return out[0] if y.ndim == 1 else out


def gcv_scores(
    A: FloatArray,
    B: FloatArray,
    yy: FloatArray,
    n: float,
    alphas: FloatArray,
    *,
    fit_intercept: bool,
    penalize_intercept: bool,
    prior: FloatArray | None = None,
) -> FloatArray:
    """Generalized cross-validation score per alpha from sufficient statistics (one eigh).

    ``A = X̃ᵀX̃`` (last row/column the intercept when ``fit_intercept``), ``B = X̃ᵀY`` ``(p, T)``,
    ``yy`` the ``T`` column sums of squares, ``n`` the number of rows. The score is
    ``(RSS / n) / (1 - df / n)²`` summed over the ``T`` targets; ``inf`` where ``df >= n``.
    With fewer than two rows every score is 0 (no information).
    """
    T = B.shape[1]
    if n < 2:
        return np.zeros(len(alphas))
    pr = np.zeros(T) if prior is None else np.asarray(prior, dtype=np.float64)
    if fit_intercept and not penalize_intercept:
        sx, sy = A[:-1, -1], B[-1]
        C = A[:-1, :-1] - np.outer(sx, sx) / n
        R = B[:-1] - np.outer(sx, sy) / n
        yyc = yy - sy * sy / n
        df0 = 1.0
    else:
        C, R, yyc, df0 = A, B, yy, 0.0
        if fit_intercept:  # shrink toward the prior: regress y - prior
            R = B - np.outer(A[:, -1], pr)
            yyc = yy - 2.0 * pr * B[-1] + pr * pr * n
    s, V = eigh(C, check_finite=False)
    s = np.maximum(s, 0.0)
    rh2 = ((V.T @ R) ** 2).sum(axis=1)
    F = 1.0 / (s[:, None] + np.asarray(alphas)[None, :])
    rss = float(np.sum(yyc)) - ((2.0 * F - s[:, None] * F * F) * rh2[:, None]).sum(axis=0)
    df = df0 + (s[:, None] * F).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = (np.maximum(rss, 0.0) / n) / (1.0 - df / n) ** 2
    return np.asarray(np.where(df < n, score, np.inf), dtype=np.float64)
