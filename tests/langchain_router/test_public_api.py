"""The public surface of langchain_router is pinned."""

from __future__ import annotations

import langchain_router
import langchain_router.testing


def test_all_is_pinned() -> None:
    """langchain_router.__all__ changes only deliberately."""
    assert sorted(langchain_router.__all__) == [
        "CONFIG_KEYS",
        "FeedbackCallbackHandler",
        "PRESETS",
        "RouterChatModel",
    ]


def test_testing_all_is_pinned() -> None:
    """langchain_router.testing.__all__ changes only deliberately."""
    assert sorted(langchain_router.testing.__all__) == [
        "FailingChatModel",
        "FakeToolChatModel",
        "ReplayChatModel",
    ]


def test_documented_config_keys() -> None:
    """The configurable keys and presets documented in docs/langchain.md are the exported ones."""
    assert langchain_router.CONFIG_KEYS == ("router_preference", "preference")
    assert sorted(langchain_router.PRESETS) == ["balanced", "cost", "quality"]
