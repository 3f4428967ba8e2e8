"""LangChain's standard conformance suites (langchain-tests) run offline against a pool of fakes."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests

from langchain_router import RouterChatModel
from langchain_router.testing import FakeToolChatModel
from shared import HashingEncoder, ModelCard


def _params() -> dict[str, Any]:
    return {
        "models": {
            "strong": FakeToolChatModel(model_name="strong"),
            "fast": FakeToolChatModel(model_name="fast"),
        },
        "cards": {
            "strong": ModelCard("strong", input_usd_per_1m=5.0, output_usd_per_1m=15.0),
            "fast": ModelCard("fast", input_usd_per_1m=0.1, output_usd_per_1m=0.4),
        },
        "encoder": HashingEncoder(n_features=64),
        "explore": False,
    }


class TestRouterChatModelUnit(ChatModelUnitTests):
    """Standard unit tests (construction, tracing params, tool binding, structured output)."""

    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return RouterChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return _params()


class TestRouterChatModelIntegration(ChatModelIntegrationTests):
    """Standard integration tests (invoke, stream, batch, tools, structured output, usage)."""

    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return RouterChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return _params()

    @property
    def model_override_value(self) -> str:
        return "fast"
