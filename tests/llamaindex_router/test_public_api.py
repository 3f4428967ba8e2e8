"""The public surface of llamaindex_router is pinned."""

from __future__ import annotations

import llamaindex_router
import llamaindex_router.testing


def test_exported_names() -> None:
    """__all__ lists exactly the public names, and each resolves."""
    assert llamaindex_router.__all__ == [
        "DECISION_ID_TAG",
        "MODEL_TAG",
        "PREFERENCE_TAG",
        "PRESETS",
        "TASK_TAG",
        "FeedbackEventHandler",
        "RouterLLM",
        "RoutingDecisionEvent",
        "RoutingFallbackEvent",
        "coerce_preference",
    ]
    for name in llamaindex_router.__all__:
        assert getattr(llamaindex_router, name) is not None


def test_testing_names() -> None:
    """The test doubles module exports the three mocks."""
    assert llamaindex_router.testing.__all__ == ["FailingLLM", "MockChatLLM", "MockToolLLM"]
    for name in llamaindex_router.testing.__all__:
        assert isinstance(getattr(llamaindex_router.testing, name), type)
