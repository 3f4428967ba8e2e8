"""An OpenAI-compatible HTTP server on 127.0.0.1 for tests of real provider clients.

It serves ``POST /v1/chat/completions`` and ``POST /v1/completions`` (plus ``GET /v1/models``),
non-streaming and streaming (server-sent events, with the usage chunk of
``stream_options={"include_usage": true}``), tool calls and JSON output, from a per-model script
of behaviours. Every request is recorded, so a test can count how often a client retried.

Usage, as a pytest fixture (the fixture opens sockets to 127.0.0.1 only, despite
``--disable-socket``)::

    from tests.openai_server import Fail, Reply, ToolCall

    def test_fallback(openai_server):
        openai_server.script("gpt-a", Fail(500))          # the next request to gpt-a fails
        openai_server.always("gpt-b", Reply("hello"))     # every request to gpt-b says hello
        llm = ChatOpenAI(model="gpt-a", base_url=openai_server.url, api_key="test", max_retries=0)
        ...
        assert openai_server.count("gpt-a") == 1

or as a context manager (the test must then allow sockets, e.g. ``@pytest.mark.enable_socket``)::

    with OpenAIServer() as server:
        client = openai.OpenAI(base_url=server.url, api_key="test")

Behaviours (scripted ones are consumed one per request, in order; when a model's script is empty
its ``always`` behaviour answers, and by default a :class:`Reply` that names the model):

- :class:`Reply` -- text (``Reply("hi")``), JSON content (``Reply(json={"a": 1})``, for
  ``response_format`` / structured output), or tool calls (``Reply(tool_calls=[ToolCall(...)])``);
  ``delay=`` seconds before answering (a slow member, for client timeouts); ``usage=False`` leaves
  the usage out.
- :class:`Fail` -- an HTTP error status (500, 429, 400 ...) with an OpenAI error body;
  ``retry_after`` seconds set the ``Retry-After`` / ``retry-after-ms`` headers (clients that retry
  wait that long).
- :class:`Cut` -- a stream that sends ``after`` content chunks and then drops the connection
  (non-streaming: a truncated body).
- :class:`Empty` -- a stream with no chunk at all, only ``[DONE]`` (non-streaming: no choices).
- :class:`Malformed` -- a 200 response whose body is not JSON.

Tokens are counted as whitespace-separated words: the prompt's for ``prompt_tokens``, the reply's
for ``completion_tokens``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

__all__ = [
    "Cut",
    "Empty",
    "Fail",
    "Malformed",
    "OpenAIServer",
    "RecordedRequest",
    "Reply",
    "ToolCall",
    "openai_server",
]


@dataclass(frozen=True)
class ToolCall:
    """One tool call of a :class:`Reply`; ``id`` defaults to ``call_<n>``."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None


@dataclass(frozen=True)
class Reply:
    """A successful answer: text, JSON content or tool calls, after ``delay`` seconds."""

    text: str | None = None
    json: Any = None
    tool_calls: Sequence[ToolCall] = ()
    delay: float = 0.0
    usage: bool = True


@dataclass(frozen=True)
class Fail:
    """An HTTP error answer (``status`` 500, 429, ...), after ``delay`` seconds."""

    status: int = 500
    message: str = "injected failure"
    retry_after: float | None = None
    delay: float = 0.0


@dataclass(frozen=True)
class Cut:
    """A stream cut after ``after`` content chunks (non-streaming: a truncated body)."""

    after: int = 0
    text: str = "this answer is cut short before the end"


@dataclass(frozen=True)
class Empty:
    """A stream with no chunk (non-streaming: a completion with no choices)."""


@dataclass(frozen=True)
class Malformed:
    """A 200 answer whose body is not JSON."""


Behaviour = Reply | Fail | Cut | Empty | Malformed


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received."""

    path: str
    model: str
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def stream(self) -> bool:
        """Whether the client asked for a stream."""
        return bool(self.body.get("stream"))

    @property
    def include_usage(self) -> bool:
        """Whether the client asked for the usage chunk of a stream."""
        options = self.body.get("stream_options") or {}
        return bool(options.get("include_usage"))


def _words(value: Any) -> int:
    """Whitespace-separated words of a message content (a string or a list of text parts)."""
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, list):
        return sum(_words(part.get("text", "")) for part in value if isinstance(part, dict))
    return 0


def _prompt_tokens(body: Mapping[str, Any]) -> int:
    if "messages" in body:
        return sum(_words(m.get("content")) for m in body["messages"]) or 1
    prompt = body.get("prompt", "")
    return _words(prompt if isinstance(prompt, str) else " ".join(map(str, prompt))) or 1


def _last_user_text(body: Mapping[str, Any]) -> str:
    if "messages" not in body:
        return str(body.get("prompt", ""))
    for message in reversed(body["messages"]):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            return " ".join(p.get("text", "") for p in content or [] if isinstance(p, dict))
    return ""


class OpenAIServer:
    """A threaded OpenAI-compatible server on 127.0.0.1 and an ephemeral port (see the module)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scripts: defaultdict[str, deque[Behaviour]] = defaultdict(deque)
        self._always: dict[str, Behaviour] = {}
        self._stop = threading.Event()
        self._counter = 0
        self.requests: list[RecordedRequest] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- scripting -----------------------------------------------------------------------------
    def script(self, model: str, *behaviours: Behaviour) -> OpenAIServer:
        """Queue behaviours for ``model``'s next requests, one per request."""
        with self._lock:
            self._scripts[model].extend(behaviours)
        return self

    def always(self, model: str, behaviour: Behaviour) -> OpenAIServer:
        """Answer every request to ``model`` (once its script is used up) with ``behaviour``."""
        with self._lock:
            self._always[model] = behaviour
        return self

    def reset(self) -> None:
        """Forget the scripts, the ``always`` behaviours and the recorded requests."""
        with self._lock:
            self._scripts.clear()
            self._always.clear()
            self.requests.clear()

    def count(self, model: str | None = None, *, path: str | None = None) -> int:
        """How many requests were received (for ``model`` / on ``path`` when given)."""
        return len(self.requests_for(model, path=path))

    def requests_for(self, model: str | None = None, *, path: str | None = None) -> list[Any]:
        """The recorded requests (for ``model`` / on ``path`` when given), oldest first."""
        with self._lock:
            return [
                r
                for r in self.requests
                if (model is None or r.model == model) and (path is None or r.path == path)
            ]

    @property
    def url(self) -> str:
        """The base URL clients take (``http://127.0.0.1:<port>/v1``)."""
        if self._httpd is None:
            raise RuntimeError("the server is not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    # -- life cycle ----------------------------------------------------------------------------
    def start(self) -> OpenAIServer:
        """Listen on 127.0.0.1 (an ephemeral port) in a daemon thread."""
        server = self

        class Handler(_Handler):
            owner = server

        self._stop.clear()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; slow answers still waiting are abandoned at once."""
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals -----------------------------------------------------------------------------
    def _next(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> Behaviour:
        model = str(body.get("model", ""))
        with self._lock:
            self.requests.append(RecordedRequest(path, model, body, headers))
            queue = self._scripts.get(model)
            if queue:
                return queue.popleft()
            return self._always.get(model, Reply())

    def _next_id(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    def _sleep(self, seconds: float) -> bool:
        """Wait ``seconds``; False when the server stops meanwhile."""
        return not self._stop.wait(seconds) if seconds > 0 else True


class _Handler(BaseHTTPRequestHandler):
    owner: OpenAIServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request log lines."""

    # -- plumbing ------------------------------------------------------------------------------
    def _send_json(self, status: int, payload: Any, extra: Mapping[str, str] = {}) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _event(self, payload: Any) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        self._chunk(f"data: {text}\n\n".encode())

    def _end_stream(self) -> None:
        self._event("[DONE]")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _drop(self) -> None:
        """Close the connection abruptly (a cut stream or body)."""
        self.close_connection = True
        self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    # -- routes --------------------------------------------------------------------------------
    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._send_json(200, {"object": "list", "data": []})
        else:
            self._send_json(
                404, {"error": {"message": f"no route {self.path}", "type": "not_found"}}
            )

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            self._send_json(400, {"error": {"message": "body is not JSON", "type": "invalid"}})
            return
        path = self.path.split("?", 1)[0].rstrip("/")
        if path.endswith("/chat/completions"):
            chat = True
        elif path.endswith("/completions"):
            chat = False
        else:
            self._send_json(
                404, {"error": {"message": f"no route {self.path}", "type": "not_found"}}
            )
            return
        behaviour = self.owner._next(path, body, {k.lower(): v for k, v in self.headers.items()})
        try:
            self._answer(behaviour, body, chat=chat)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True  # the client gave up (a timeout): nothing to answer

    def _answer(self, behaviour: Behaviour, body: dict[str, Any], *, chat: bool) -> None:
        stream = bool(body.get("stream"))
        if isinstance(behaviour, Reply | Fail) and not self.owner._sleep(behaviour.delay):
            self._drop()
            return
        if isinstance(behaviour, Fail):
            extra = {}
            if behaviour.retry_after is not None:  # the OpenAI SDK reads both headers
                extra["Retry-After"] = str(behaviour.retry_after)
                extra["retry-after-ms"] = str(int(behaviour.retry_after * 1000))
            kind = "rate_limit_exceeded" if behaviour.status == 429 else "server_error"
            error = {"message": behaviour.message, "type": kind, "code": kind, "param": None}
            self._send_json(behaviour.status, {"error": error}, extra)
        elif isinstance(behaviour, Malformed):
            data = b"this is not json"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif isinstance(behaviour, Empty):
            if stream:
                self._start_stream()
                self._end_stream()
            else:
                self._send_json(200, self._envelope(body, chat=chat, choices=[], usage=None))
        elif isinstance(behaviour, Cut):
            self._cut(behaviour, body, chat=chat, stream=stream)
        elif stream:
            self._stream_reply(behaviour, body, chat=chat)
        else:
            self._reply(behaviour, body, chat=chat)

    # -- payloads ------------------------------------------------------------------------------
    def _envelope(
        self,
        body: Mapping[str, Any],
        *,
        chat: bool,
        choices: list[Any],
        usage: Any,
        chunk: bool = False,
    ) -> dict[str, Any]:
        if chat:
            obj = "chat.completion.chunk" if chunk else "chat.completion"
        else:
            obj = "text_completion"
        payload: dict[str, Any] = {
            "id": f"cmpl-{self.owner._next_id()}",
            "object": obj,
            "created": int(time.time()),
            "model": str(body.get("model", "")),
            "system_fingerprint": "fp_prefroute_test",
            "choices": choices,
        }
        if usage is not None or not chunk:
            payload["usage"] = usage
        return payload

    @staticmethod
    def _text(reply: Reply, body: Mapping[str, Any]) -> str:
        if reply.json is not None:
            return json.dumps(reply.json)
        if reply.text is not None:
            return reply.text
        if reply.tool_calls:
            return ""
        return f"{body.get('model', '')} answers: {_last_user_text(body)}".strip()

    def _usage(self, body: Mapping[str, Any], completion: int) -> dict[str, int]:
        prompt = _prompt_tokens(body)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def _tool_calls(self, reply: Reply) -> list[dict[str, Any]]:
        return [
            {
                "id": call.id or f"call_{self.owner._next_id()}",
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(dict(call.arguments))},
            }
            for call in reply.tool_calls
        ]

    def _reply(self, reply: Reply, body: Mapping[str, Any], *, chat: bool) -> None:
        text = self._text(reply, body)
        calls = self._tool_calls(reply)
        finish = "tool_calls" if calls else "stop"
        if chat:
            message: dict[str, Any] = {"role": "assistant", "content": text or None}
            if calls:
                message["tool_calls"] = calls
            choice: dict[str, Any] = {
                "index": 0,
                "message": message,
                "finish_reason": finish,
                "logprobs": None,
            }
        else:
            choice = {"index": 0, "text": text, "finish_reason": finish, "logprobs": None}
        completion = _words(text) + sum(_words(c["function"]["arguments"]) for c in calls)
        usage = self._usage(body, completion) if reply.usage else None
        self._send_json(200, self._envelope(body, chat=chat, choices=[choice], usage=usage))

    def _delta(
        self,
        body: Mapping[str, Any],
        delta: dict[str, Any],
        *,
        chat: bool,
        finish: str | None = None,
    ) -> dict[str, Any]:
        if chat:
            choice: dict[str, Any] = {
                "index": 0,
                "delta": delta,
                "finish_reason": finish,
                "logprobs": None,
            }
        else:
            choice = {
                "index": 0,
                "text": delta.get("content", ""),
                "finish_reason": finish,
                "logprobs": None,
            }
        return self._envelope(body, chat=chat, choices=[choice], usage=None, chunk=True)

    def _pieces(self, text: str) -> list[str]:
        words = text.split(" ")
        return [w if i == 0 else " " + w for i, w in enumerate(words)] if text else []

    def _stream_reply(self, reply: Reply, body: Mapping[str, Any], *, chat: bool) -> None:
        text = self._text(reply, body)
        calls = self._tool_calls(reply)
        self._start_stream()
        if chat:
            self._event(self._delta(body, {"role": "assistant", "content": ""}, chat=chat))
        for piece in self._pieces(text):
            self._event(self._delta(body, {"content": piece}, chat=chat))
        for index, call in enumerate(calls):
            head = {
                "index": index,
                "id": call["id"],
                "type": "function",
                "function": {"name": call["function"]["name"], "arguments": ""},
            }
            self._event(self._delta(body, {"tool_calls": [head]}, chat=chat))
            arguments = call["function"]["arguments"]
            half = len(arguments) // 2
            for part in (arguments[:half], arguments[half:]):
                self._event(
                    self._delta(
                        body,
                        {"tool_calls": [{"index": index, "function": {"arguments": part}}]},
                        chat=chat,
                    )
                )
        self._event(self._delta(body, {}, chat=chat, finish="tool_calls" if calls else "stop"))
        if reply.usage and (body.get("stream_options") or {}).get("include_usage"):
            completion = _words(text) + sum(_words(c["function"]["arguments"]) for c in calls)
            self._event(
                self._envelope(
                    body, chat=chat, choices=[], usage=self._usage(body, completion), chunk=True
                )
            )
        self._end_stream()

    def _cut(self, cut: Cut, body: Mapping[str, Any], *, chat: bool, stream: bool) -> None:
        if not stream:
            data = json.dumps(self._envelope(body, chat=chat, choices=[], usage=None)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self._drop()
            return
        self._start_stream()
        if chat:
            self._event(self._delta(body, {"role": "assistant", "content": ""}, chat=chat))
        for piece in self._pieces(cut.text)[: cut.after]:
            self._event(self._delta(body, {"content": piece}, chat=chat))
        self.wfile.write(b'40\r\ndata: {"trunc')  # a chunk that never completes
        self._drop()


@pytest.fixture
def openai_server(socket_enabled: None) -> Iterator[OpenAIServer]:
    """A started :class:`OpenAIServer`; the test may connect to 127.0.0.1 only."""
    from pytest_socket import socket_allow_hosts

    socket_allow_hosts(["127.0.0.1"], allow_unix_socket=True)
    with OpenAIServer() as server:
        yield server
