"""Task levels: the middle of the hierarchy member -> task -> prompt, from running sums.

A ridge head predicts a member's outcome ``ŷ_m(x)`` (its prior-shrunk mean plus per-prompt
deviations). When outcomes carry a task key ``t`` (a chain or agent-node name, a template id, a
tag), :class:`TaskLevels` keeps, per (task, member) cell, the count ``n``, the sum of outcomes
``S`` and the sum of designs ``Σx̃``, and gives the **task offset**

    δ_{m,t} = (S_{m,t} - w_mᵀ Σx̃_{m,t}) / (strength + n_{m,t})

the mean residual of the member-level prediction on the task's rows, shrunk toward 0 (toward the
member level) by ``strength`` pseudo-observations. The prediction for a prompt of task ``t`` is
``ŷ_m(x) + δ_{m,t}``; a task never seen (or no task) adds 0, so it routes exactly as without
tasks. Because the offset is recomputed from the sums against the current weights ``w_m``, it
always is the residual of today's member model, however the weights moved since: one rating
``y`` of a member on a prompt of task ``t`` moves that task's prediction (at the rated prompt)
from the member level toward ``y`` by exactly ``1 / (1 + strength)`` of the gap, and leaves
every other task at the member level.

Examples:
    >>> import numpy as np
    >>> levels = TaskLevels(n_models=2, widths={"q": 2})
    >>> rows = levels.indices(["a", None], add=True)
    >>> levels.add("q", 0, rows, np.array([[1.0, 1.0], [0.0, 1.0]]), np.array([1.0, 0.0]))
    >>> W = np.array([[0.0, 0.0], [0.5, 0.5]])  # both members predict 0.5 everywhere
    >>> levels.offsets("q", W, strength=1.0).round(3).tolist()  # (1 - 0.5) / (1 + 1)
    [[0.25, 0.0]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

__all__ = ["TaskLevels"]


class TaskLevels:
    """Per (task, member) running sums for one or more targets, and the task offsets.

    Args:
        n_models: number of members (columns).
        widths: design width per target name (e.g. ``{"q": p, "c": p}``).

    Attributes:
        names: the task keys seen, in order of first appearance (row ``i`` of every array).
    """

    def __init__(self, n_models: int, widths: Mapping[str, int]) -> None:
        self.names: list[str] = []
        self._index: dict[str, int] = {}
        self.widths = dict(widths)
        self.n = {k: np.zeros((0, n_models)) for k in self.widths}
        self.sum = {k: np.zeros((0, n_models)) for k in self.widths}
        self.design = {k: np.zeros((0, n_models, w)) for k, w in self.widths.items()}

    @property
    def n_tasks(self) -> int:
        return len(self.names)

    def indices(self, tasks: Sequence[str | None], *, add: bool) -> NDArray[np.intp]:
        """Row of each task key (``-1`` for ``None``, and for an unknown key unless ``add``)."""
        out = np.full(len(tasks), -1, dtype=np.intp)
        for i, task in enumerate(tasks):
            if task is None:
                continue
            row = self._index.get(task)
            if row is None and add:
                row = self._new(task)
            if row is not None:
                out[i] = row
        return out

    def _new(self, task: str) -> int:
        row = len(self.names)
        self.names.append(task)
        self._index[task] = row
        for k in self.widths:
            K = self.n[k].shape[1]
            self.n[k] = np.vstack([self.n[k], np.zeros((1, K))])
            self.sum[k] = np.vstack([self.sum[k], np.zeros((1, K))])
            self.design[k] = np.concatenate([self.design[k], np.zeros((1, K, self.widths[k]))])
        return row

    def add(
        self, target: str, k: int, rows: NDArray[np.intp], Xt: FloatArray, y: FloatArray
    ) -> None:
        """Add observations ``(Xt, y)`` of member ``k`` whose task rows are ``rows`` (-1: none)."""
        keep = rows >= 0
        if not keep.any():
            return
        r = rows[keep]
        np.add.at(self.n[target][:, k], r, 1.0)
        np.add.at(self.sum[target][:, k], r, y[keep])
        np.add.at(self.design[target][:, k, :], r, Xt[keep])

    def offsets(self, target: str, W: FloatArray, strength: float) -> FloatArray:
        """``(n_tasks, K)`` offsets ``δ`` against the weights ``W`` ``(p, K)`` of the heads."""
        n = self.n[target]
        if n.shape[0] == 0:
            return np.zeros_like(n)
        fitted = np.einsum("tkp,pk->tk", self.design[target], W)
        with np.errstate(divide="ignore", invalid="ignore"):
            delta = (self.sum[target] - fitted) / (strength + n)
        return np.asarray(np.where(n > 0, delta, 0.0), dtype=np.float64)

    def row_offsets(
        self, target: str, W: FloatArray, strength: float, rows: NDArray[np.intp]
    ) -> FloatArray:
        """``(len(rows), K)`` offsets of each row's task (0 for ``-1``)."""
        table = self.offsets(target, W, strength)
        out = np.zeros((rows.shape[0], table.shape[1]))
        known = rows >= 0
        out[known] = table[rows[known]]
        return out

    # ------------------------------------------------------------------ pool changes
    def append_model(self) -> None:
        """Add a member column with no observations."""
        for k in self.widths:
            T = self.n[k].shape[0]
            self.n[k] = np.hstack([self.n[k], np.zeros((T, 1))])
            self.sum[k] = np.hstack([self.sum[k], np.zeros((T, 1))])
            self.design[k] = np.concatenate(
                [self.design[k], np.zeros((T, 1, self.widths[k]))], axis=1
            )

    def delete_model(self, j: int) -> None:
        """Drop member column ``j``."""
        for k in self.widths:
            self.n[k] = np.delete(self.n[k], j, axis=1)
            self.sum[k] = np.delete(self.sum[k], j, axis=1)
            self.design[k] = np.delete(self.design[k], j, axis=1)

    # ------------------------------------------------------------------ persistence
    def state(self, prefix: str) -> dict[str, NDArray[Any]]:
        """The sums as named arrays (the task names are saved in the JSON part)."""
        out: dict[str, NDArray[Any]] = {}
        for k in self.widths:
            out[f"{prefix}{k}_n"] = self.n[k]
            out[f"{prefix}{k}_sum"] = self.sum[k]
            out[f"{prefix}{k}_design"] = self.design[k]
        return out

    def load(self, names: Sequence[str], prefix: str, arrays: Mapping[str, NDArray[Any]]) -> None:
        """Restore :meth:`state` with the task ``names``.

        Raises:
            ValueError: missing arrays, shapes that do not match, duplicate names or negative
                counts.
        """
        names = [str(t) for t in names]
        if len(set(names)) != len(names):
            raise ValueError("saved task names are not unique")
        T = len(names)
        for k, w in self.widths.items():
            K = self.n[k].shape[1]
            n = np.array(arrays[f"{prefix}{k}_n"], dtype=np.float64)
            s = np.array(arrays[f"{prefix}{k}_sum"], dtype=np.float64)
            X = np.array(arrays[f"{prefix}{k}_design"], dtype=np.float64)
            if n.shape != (T, K) or s.shape != (T, K) or X.shape != (T, K, w):
                raise ValueError(f"saved task statistics {prefix}{k}_* do not have matching shapes")
            if (n < 0).any():
                raise ValueError(f"saved task statistics {prefix}{k}_n are negative")
            self.n[k], self.sum[k], self.design[k] = n, s, X
        self.names = names
        self._index = {t: i for i, t in enumerate(names)}
