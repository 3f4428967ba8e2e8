"""Routing tables: per-prompt x per-model outcomes (quality in [0, 1], USD cost per call).

A :class:`RoutingTable` holds, for ``n`` prompts and ``K`` models, the prompt texts, their task and
split, and two ``(n, K)`` float matrices ``quality`` and ``cost`` where NaN marks a pair that was
not observed. Two on-disk layouts are supported:

* the long layout (:func:`read_table` / :func:`write_table`): a directory with ``prompts.jsonl``
  (``id``, ``prompt``, ``task``, ``split`` per line), ``outcomes.csv`` (``id,model,quality,cost``, one
  row per observed pair) and ``models.json`` (``{model: card fields}``, optional);
* RouterBench's wide CSV (:func:`read_routerbench_csv`): one row per prompt, a 0/1 score column per
  model, ``<model>|total_cost`` and ``<model>|model_response`` columns; the split comes from the file
  name (``*_train.csv``, ``*_test.csv``, ``*_validation.csv``).

Examples:
    >>> import numpy as np
    >>> t = RoutingTable(ids=("a", "b"), prompts=("hi", "2+2?"), tasks=("chat", "math"),
    ...                  splits=("train", "test"), models=("big", "small"),
    ...                  quality=np.array([[1.0, 1.0], [1.0, np.nan]]),
    ...                  cost=np.array([[0.01, 0.001], [0.02, np.nan]]))
    >>> t.n_prompts, t.n_models, t.complete().ids, t.split("test").ids
    (2, 2, ('a',), ('b',))
"""

from __future__ import annotations

from ._table import SPLITS, RoutingTable, table_from_arrays
from .longform import DuplicatePolicy, read_table, write_table
from .routerbench import parse_prompt_list, read_routerbench_csv

__all__ = [
    "SPLITS",
    "DuplicatePolicy",
    "RoutingTable",
    "parse_prompt_list",
    "read_routerbench_csv",
    "read_table",
    "table_from_arrays",
    "write_table",
]
