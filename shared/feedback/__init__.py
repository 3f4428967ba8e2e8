"""Feedback: store routing decisions and their ratings, and learn from them.

* :class:`FeedbackStore`: decisions, outcomes and ratings in SQLite or PostgreSQL (SQLAlchemy).
* :class:`DecisionRecord`, :class:`~shared.BanditLog`: what the store gives back.
* :class:`OnlineLearner`: one router update per rating, or a batch retrain from the store.
* :class:`RouterHandle`: swap in a router retrained elsewhere without restarting.
"""

from __future__ import annotations

from ..outcomes import BanditLog
from .handle import RouterHandle
from .learner import OnlineLearner
from .records import DecisionRecord
from .store import DEFAULT_URL, FeedbackStore

__all__ = [
    "DEFAULT_URL",
    "BanditLog",
    "DecisionRecord",
    "FeedbackStore",
    "OnlineLearner",
    "RouterHandle",
]
