"""The serving core both adapters call: fallback loop, error classes, engine construction,
default preference, usage estimates, bounded maps and record -> rate -> learn once."""

from __future__ import annotations

import ast
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import openai
import pytest

from shared import (
    AllCandidatesFailedError,
    Decision,
    EmptyStreamError,
    HashingEncoder,
    InvalidParameterError,
    ModelCard,
    ModelPool,
    Preference,
    PreferenceError,
    RoutingEngine,
    UnknownModelError,
)
from shared.serving import (
    Attempts,
    BoundedMap,
    FeedbackRecorder,
    Outcome,
    build_engine,
    call_preference,
    coerce_pool,
    is_fallback_error,
)

ROOT = Path(__file__).resolve().parents[2]


def decision(*ranking: str, decision_id: str = "d1") -> Decision:
    return Decision(
        model=ranking[0],
        models=tuple(sorted(ranking)),
        scores=tuple(0.0 for _ in ranking),
        propensity=0.5,
        preference=Preference(),
        ranking=ranking,
        decision_id=decision_id,
    )


def test_adapters_import_only_the_public_core() -> None:
    """No adapter module imports a private core module (``shared._x``) or name."""
    offenders = []
    for package in ("langchain_router", "llamaindex_router"):
        for path in sorted((ROOT / package).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names: list[str] = []
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                elif isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                for name in names:
                    parts = name.split(".")
                    if parts[0] == "shared" and any(p.startswith("_") for p in parts[1:]):
                        offenders.append(f"{path.name}: {name}")
    assert offenders == []


# ------------------------------------------------------------------ errors
def _status_error(cls: type[openai.APIStatusError], status: int) -> openai.APIStatusError:
    request = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")
    return cls("boom", response=httpx.Response(status, request=request), body=None)


@pytest.mark.parametrize(
    "err",
    [
        _status_error(openai.InternalServerError, 500),
        _status_error(openai.RateLimitError, 429),
        openai.APITimeoutError(request=httpx.Request("POST", "http://127.0.0.1")),
        httpx.RemoteProtocolError("peer closed connection"),
        httpx.ConnectError("refused"),
        TimeoutError(),
        ConnectionResetError(),
        json.JSONDecodeError("Expecting value", "not json", 0),
        EmptyStreamError("nothing"),
        RuntimeError("provider unavailable"),
        IndexError("list index out of range"),  # an integration parsing a malformed response
    ],
)
def test_provider_errors_fall_back(err: BaseException) -> None:
    assert is_fallback_error(err)


@pytest.mark.parametrize(
    "err",
    [
        TypeError("got an unexpected keyword argument 'temprature'"),
        AttributeError("x"),
        NameError("y"),
        NotImplementedError(),
        PreferenceError("bad"),
        KeyboardInterrupt(),
    ],
)
def test_caller_errors_do_not_fall_back(err: BaseException) -> None:
    assert not is_fallback_error(err)


def test_status_code_marks_a_provider_error() -> None:
    class WeirdError(KeyError):
        status_code = 503

    assert is_fallback_error(WeirdError())


# ------------------------------------------------------------------ fallback loop
def test_run_falls_back_and_reports() -> None:
    failures: list[tuple[int, str]] = []
    attempts = Attempts(
        decision("a", "b", "c"), on_failure=lambda i, name, _err: failures.append((i, name))
    )

    def call(name: str) -> str:
        if name != "c":
            raise TimeoutError(name)
        return name

    assert attempts.run(call) == "c"
    assert failures == [(0, "a"), (1, "b")]
    routing = attempts.routing()
    assert routing["model"] == "c" and routing["ranking"] == ["c", "a", "b"]
    assert [f["model"] for f in routing["fallbacks"]] == ["a", "b"]
    assert routing["decision_id"] == "d1" and routing["sticky"] is False


def test_run_reraises_caller_errors_and_honours_fallback_false() -> None:
    calls: list[str] = []

    def call(name: str) -> str:
        calls.append(name)
        raise TypeError("bug")

    with pytest.raises(TypeError):
        Attempts(decision("a", "b")).run(call)
    assert calls == ["a"]

    def down(name: str) -> str:
        raise TimeoutError(name)

    with pytest.raises(TimeoutError):
        Attempts(decision("a", "b"), fallback=False).run(down)


def test_all_failed() -> None:
    def down(name: str) -> str:
        raise ConnectionError(name)

    with pytest.raises(AllCandidatesFailedError) as info:
        Attempts(decision("a", "b")).run(down)
    assert sorted(info.value.errors) == ["a", "b"]
    assert isinstance(info.value.__cause__, ConnectionError)


def test_stream_pulls_the_first_chunk_and_skips_empty_streams() -> None:
    def call(name: str) -> Iterator[str]:
        if name == "a":
            return iter([])
        return iter(["x", "y"])

    attempts = Attempts(decision("a", "b"))
    name, head, rest = attempts.stream(call)
    assert (name, head, list(rest)) == ("b", ["x"], ["y"])
    assert attempts.routing()["fallbacks"][0]["error"].startswith("EmptyStreamError")


def test_stream_holds_chunks_without_output_and_falls_back_after_them() -> None:
    """An opening chunk with no output (OpenAI's role chunk) does not commit to the member."""

    def call(name: str) -> Iterator[str]:
        yield ""
        if name == "a":
            raise ConnectionError("cut")
        yield from ("", "x", "y")

    attempts = Attempts(decision("a", "b"))
    name, head, rest = attempts.stream(call, has_output=bool)
    assert (name, head, list(rest)) == ("b", ["", "", "x"], ["y"])
    only_empty = Attempts(decision("a"))
    with pytest.raises(AllCandidatesFailedError, match="EmptyStreamError"):
        only_empty.stream(lambda _n: iter(["", ""]), has_output=bool)


async def test_astream_accepts_iterators_and_awaitables() -> None:
    async def chunks(*items: str) -> AsyncIterator[str]:
        for item in items:
            yield item

    async def started(name: str) -> AsyncIterator[str]:
        if name == "a":
            raise TimeoutError("a")
        return chunks("p", "q")

    name, head, rest = await Attempts(decision("a", "b")).astream(started)
    assert (name, head, [c async for c in rest]) == ("b", ["p"], ["q"])
    name, head, _ = await Attempts(decision("a", "b")).astream(
        lambda n: chunks("", n), has_output=bool
    )
    assert (name, head) == ("a", ["", "a"])


async def test_arun() -> None:
    async def call(name: str) -> str:
        if name == "a":
            raise TimeoutError
        return name

    assert await Attempts(decision("a", "b")).arun(call) == "b"


# ------------------------------------------------------------------ construction
def test_coerce_pool_forms_and_errors() -> None:
    cards = [ModelCard("a"), ModelCard("b")]
    for pool in (ModelPool(cards), cards, {"a": cards[0], "b": cards[1]}):
        assert coerce_pool(pool).names == ("a", "b")
    with pytest.raises(InvalidParameterError, match="named"):
        coerce_pool({"x": cards[0]})
    with pytest.raises(InvalidParameterError):
        coerce_pool("a")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError):
        coerce_pool([object()])  # type: ignore[list-item]


def test_build_engine() -> None:
    engine = build_engine(
        ["a", "b"],
        pool=[ModelCard("b", input_usd_per_1m=1.0)],
        default_card=lambda key: ModelCard(key),
        encoder=HashingEncoder(n_features=8),
        default_preference="cost",
    )
    assert engine.pool.names == ("a", "b") and engine.pool["b"].input_usd_per_1m == 1.0
    assert engine.default_preference == Preference.coerce("cost")
    with pytest.raises(UnknownModelError):
        build_engine(["a"], pool=[ModelCard("z")], default_card=ModelCard)
    with pytest.raises(InvalidParameterError, match="encoder="):
        build_engine(["a"], engine=engine, default_card=ModelCard, encoder=HashingEncoder())
    with pytest.raises(InvalidParameterError, match="exactly"):
        build_engine(["a"], engine=engine, default_card=ModelCard)
    assert build_engine(["b", "a"], engine=engine, default_card=ModelCard, router=None) is engine


def test_call_preference() -> None:
    assert call_preference(None, None) is None
    assert call_preference(None, 0.25, "quality") == Preference.coerce(0.25)
    with pytest.raises(PreferenceError):
        call_preference("nonsense", "quality")


# ------------------------------------------------------------------ feedback
def test_bounded_map() -> None:
    m: BoundedMap[str, int] = BoundedMap(maxsize=2)
    m["a"] = 1
    m["b"] = 2
    assert m.setdefault("a", 0) == 1  # refreshes "a"
    m["c"] = 3
    assert m.keys() == ["a", "c"] and "b" not in m
    assert m.add_new("c", 9) is False and m.get("c") == 3
    assert m.pop("c") == 3 and len(m) == 1
    with pytest.raises(InvalidParameterError):
        BoundedMap(maxsize=0)


def make_engine() -> RoutingEngine:
    return RoutingEngine(
        [ModelCard("a", input_usd_per_1m=1.0), ModelCard("b", input_usd_per_1m=2.0)],
        encoder=HashingEncoder(n_features=16),
        explore=False,
    )


def test_record_prices_marks_estimates_and_stores_the_routers_choice() -> None:
    engine = make_engine()
    recorder = FeedbackRecorder(engine=engine)
    served = decision("a", "b").with_model("b")
    outcome = Outcome(
        model="b",
        input_tokens=1000,
        output_tokens=0,
        usage_estimated=True,
        fallbacks=[{"model": "a", "error": "TimeoutError: "}],
    )
    record = recorder.record(served, prompt="hi", outcome=outcome, aliases=["req"])
    assert (record.chosen_model, record.model) == ("a", "b")
    assert record.cost_usd == pytest.approx(engine.estimate_cost("b", 1000, 0))
    assert record.metadata["usage_estimated"] is True
    assert recorder.keys("req") == ["d1"] and recorder.keys("other") == ["other"]


def test_rate_learns_once_per_decision(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine()
    learned: list[str] = []
    monkeypatch.setattr(engine, "learn_record", lambda record: learned.append(record.decision_id))
    recorder = FeedbackRecorder(engine=engine)
    recorder.record(decision("a", "b"), prompt="hi", outcome=Outcome(model="a"), aliases=["r"])
    for _ in range(3):
        recorder.rate("r", 0.8)
    recorder.rate(["d1", "r"], 0.4)
    assert learned == ["d1"] and recorder.learned() == ["d1"]
    assert recorder.store.get("d1").score == 0.4


def test_bind_keeps_the_first_engine() -> None:
    first, second = make_engine(), make_engine()
    recorder = FeedbackRecorder()
    assert recorder.bind(first) and not recorder.bind(second)
    assert recorder.engine is first
