"""A scriptable fake LLM server speaking the Anthropic, OpenAI and Ollama wire formats.

``FakeLLMServer`` is a small HTTP/1.1 server on 127.0.0.1 that runs in its own
thread with its own event loop, so sync tests, async tests and Textual Pilot
tests can all use it. Replies are scripted independently of the wire format::

    fake.script(Reply(text="Hello"), Reply(tool_calls=[ToolCallSpec("add", {"a": 1})]))

The next chat requests (on any protocol) consume the queue in order; when it is
empty the server answers ``"echo: <last user text>"``. Each reply is rendered in
the exact wire format of the endpoint that was hit:

- Anthropic Messages: ``POST /v1/messages`` (SSE named events or one JSON
  message), ``GET /v1/models`` (when the request carries ``anthropic-version``
  or ``x-api-key``).
- OpenAI Chat Completions: ``POST /v1/chat/completions`` (SSE ``data:`` chunks
  ending in ``[DONE]``, with the usage chunk when ``stream_options.include_usage``),
  ``GET /v1/models``.
- Ollama: ``POST /api/chat`` (NDJSON or one JSON object), ``GET /api/tags``,
  ``POST /api/show`` (context length and capabilities from ``model_details``),
  ``GET /api/version``, ``GET /api/ps`` (``loaded``), ``POST /api/pull`` (NDJSON
  progress of ``pullable`` models; ``pull_error`` fails it part way),
  ``DELETE /api/delete``.
- llama.cpp ``GET /props`` (``props_n_ctx``) and vLLM's ``max_model_len`` in
  ``/v1/models`` (``max_model_len``).

Thinking: ``Reply(thinking=...)`` streams as Anthropic ``thinking`` blocks
(``signature``, then ``redacted_thinking`` blocks), OpenAI
``delta.reasoning_content`` (or ``reasoning_field="reasoning"``) and Ollama
``message.thinking``.

Failure modes: ``status`` (an HTTP error with the provider's real error body),
``cut_after_chunks`` (the connection drops mid-stream), ``stall_after_chunks``
(the server stops sending but keeps the connection open), ``error_event`` (a
mid-stream error event), ``raw`` (a handwritten body sent as-is).

A chat request the real API would refuse (calls and results that do not pair
up, an image where its role cannot hold one, bad image data) gets that API's
400 and its reason in ``wire_errors`` (``tests/fakes/wire.py``).
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import json
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .wire import wire_problem

__all__ = ["FakeLLMServer", "Reply", "ToolCallSpec", "RecordedRequest"]

Protocol = str  # "anthropic" | "openai" | "ollama"

_serving: contextvars.ContextVar[RecordedRequest] = contextvars.ContextVar("serving")
"""The request a connection's task is answering (each connection runs in its own task)."""

# Normalised stop reasons rendered per protocol.
_OPENAI_FINISH = {"end_turn": "stop", "tool_use": "tool_calls", "max_tokens": "length", "stop_sequence": "stop"}
_OLLAMA_DONE = {"end_turn": "stop", "tool_use": "stop", "max_tokens": "length", "stop_sequence": "stop"}

_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_DEFAULT_ERROR_MESSAGES = {
    400: "The request is invalid.",
    401: "invalid x-api-key",
    403: "Your API key does not have permission to use the specified resource.",
    404: "model: not-a-model",
    408: "Request timed out.",
    409: "Conflict.",
    413: "Request exceeds the maximum allowed number of bytes.",
    429: "Number of request tokens has exceeded your per-minute rate limit.",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    529: "Overloaded",
}
_OPENAI_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("server_error", None),
}
_REASONS = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    408: "Request Timeout", 409: "Conflict", 413: "Payload Too Large", 422: "Unprocessable Entity",
    429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout", 529: "Overloaded",
}


@dataclass(frozen=True)
class ToolCallSpec:
    """A tool call the fake model makes: the tool's name, its arguments and an optional id."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    id: str | None = None


@dataclass(frozen=True)
class Reply:
    """One scripted reply, rendered in whichever wire format the request used.

    ``text`` streams in pieces of ``chunk_chars`` characters (each tool call's
    JSON arguments too, for the protocols that fragment them), ``delay`` seconds
    apart; ``burst`` frames go out in one write (a fast server: the client reads
    many chunks at once). ``usage`` is ``(input_tokens, output_tokens)``; ``stop_reason`` is
    normalised (end_turn, tool_use, max_tokens, stop_sequence) and defaults to
    tool_use when there are tool calls. A "chunk" counted by
    ``cut_after_chunks`` / ``stall_after_chunks`` is one content delta event;
    the stream's opening events (e.g. ``message_start``) are always sent.
    """

    text: str = ""
    tool_calls: list[ToolCallSpec] = field(default_factory=list)
    usage: tuple[int, int] | None = None
    chunk_chars: int = 8
    delay: float = 0.0
    first_delay: float = 0.0
    burst: int = 1
    stop_reason: str | None = None
    thinking: str | None = None
    status: int = 200
    body: Any = None
    error_message: str | None = None
    error_type: str | None = None
    error_code: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    cut_after_chunks: int | None = None
    stall_after_chunks: int | None = None
    raw: bytes | None = None
    error_event: str | dict[str, Any] | None = None
    model: str | None = None
    signature: str = "sig_fake"
    redacted_thinking: tuple[str, ...] = ()
    reasoning_field: str = "reasoning_content"

    def resolved_stop_reason(self) -> str:
        """The normalised stop reason this reply ends with."""
        if self.stop_reason:
            return self.stop_reason
        return "tool_use" if self.tool_calls else "end_turn"

    def resolved_usage(self) -> tuple[int, int]:
        """Usage to report: the scripted one or a deterministic estimate."""
        if self.usage is not None:
            return self.usage
        return (12, max(1, (len(self.text) + 3) // 4) + 8 * len(self.tool_calls))


@dataclass
class RecordedRequest:
    """One request the fake received: method, path, lower-cased headers and the parsed JSON body."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw_body: bytes
    query: str = ""
    received_at: float = 0.0  # time.time() when the request was read (benchmarks: first-byte timing)
    first_byte_at: float = 0.0  # time.time() when the response's first byte was written

    @property
    def json(self) -> Any:
        """Alias of ``body``."""
        return self.body


@dataclass
class _Frame:
    """One piece of a streamed body; ``delta`` frames count as chunks."""

    data: bytes
    delta: bool = False


class _Stream:
    """A rendered reply: status, headers, and frames (streamed) or one body."""

    def __init__(self, status: int, content_type: str, frames: list[_Frame], *, streamed: bool,
                 headers: Mapping[str, str] | None = None, error_frame: bytes | None = None) -> None:
        self.status = status
        self.content_type = content_type
        self.frames = frames
        self.streamed = streamed
        self.headers = dict(headers or {})
        self.error_frame = error_frame


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _pieces(text: str, size: int) -> list[str]:
    size = max(1, size)
    return [text[i : i + size] for i in range(0, len(text), size)]


def _sse(event: str | None, data: Any) -> bytes:
    head = f"event: {event}\n" if event else ""
    payload = data if isinstance(data, str) else _dumps(data)
    return f"{head}data: {payload}\n\n".encode()


def _last_user_text(protocol: Protocol, body: Any) -> str:
    """The last user message's text, for the echo reply."""
    if not isinstance(body, dict):
        return ""
    for message in reversed(body.get("messages") or []):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            texts = [b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"]
            if texts:
                return "".join(texts)
    return ""


class _Ids:
    """Deterministic ids, unique per server."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def next(self, prefix: str) -> str:
        return f"{prefix}{next(self._counter):06d}"


# ---------------------------------------------------------------- renderers


def _error_body(protocol: Protocol, reply: Reply) -> Any:
    """The provider's real error body shape for ``reply.status``."""
    if reply.body is not None:
        return reply.body
    status = reply.status
    message = reply.error_message or _DEFAULT_ERROR_MESSAGES.get(status, f"HTTP {status}")
    if protocol == "anthropic":
        etype = reply.error_type or _ANTHROPIC_ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return {"type": "error", "error": {"type": etype, "message": message}, "request_id": "req_fake0001"}
    if protocol == "openai":
        etype, code = _OPENAI_ERROR_TYPES.get(status, ("server_error" if status >= 500 else "invalid_request_error", None))
        return {"error": {"message": message, "type": reply.error_type or etype, "param": None,
                          "code": reply.error_code if reply.error_code is not None else code}}
    return {"error": message}


def _render_error(protocol: Protocol, reply: Reply) -> _Stream:
    body = _error_body(protocol, reply)
    data = body if isinstance(body, bytes) else (body.encode() if isinstance(body, str) else _dumps(body).encode())
    ctype = "application/json" if not isinstance(body, (bytes, str)) else "text/plain; charset=utf-8"
    return _Stream(reply.status, ctype, [_Frame(data)], streamed=False, headers=reply.headers)


def _mid_stream_error(protocol: Protocol, err: str | dict[str, Any]) -> bytes:
    if protocol == "anthropic":
        detail = err if isinstance(err, dict) else {"type": "overloaded_error", "message": err}
        return _sse("error", {"type": "error", "error": detail})
    if protocol == "openai":
        detail = err if isinstance(err, dict) else {"message": err, "type": "server_error", "param": None, "code": None}
        return _sse(None, {"error": detail})
    message = err.get("message", _dumps(err)) if isinstance(err, dict) else err
    return (_dumps({"error": message}) + "\n").encode()


def _render_anthropic(reply: Reply, body: dict[str, Any], ids: _Ids) -> _Stream:
    model = reply.model or body.get("model") or "claude-fake"
    usage_in, usage_out = reply.resolved_usage()
    stop = reply.resolved_stop_reason()
    msg_id = ids.next("msg_fake")
    calls = [(spec.id or ids.next("toolu_fake"), spec) for spec in reply.tool_calls]
    if not body.get("stream"):
        content: list[dict[str, Any]] = []
        if reply.thinking:
            content.append({"type": "thinking", "thinking": reply.thinking, "signature": reply.signature})
        content += [{"type": "redacted_thinking", "data": data} for data in reply.redacted_thinking]
        if reply.text:
            content.append({"type": "text", "text": reply.text})
        content += [{"type": "tool_use", "id": cid, "name": s.name, "input": s.arguments} for cid, s in calls]
        message = {"id": msg_id, "type": "message", "role": "assistant", "model": model, "content": content,
                   "stop_reason": stop, "stop_sequence": None,
                   "usage": {"input_tokens": usage_in, "output_tokens": usage_out}}
        return _Stream(200, "application/json", [_Frame(_dumps(message).encode())], streamed=False,
                       headers={"request-id": "req_fake0001", **reply.headers})
    frames = [_Frame(_sse("message_start", {"type": "message_start", "message": {
        "id": msg_id, "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": usage_in, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                  "output_tokens": 1}}}))]
    index = 0
    if reply.thinking:
        frames.append(_Frame(_sse("content_block_start", {"type": "content_block_start", "index": index,
                                                          "content_block": {"type": "thinking", "thinking": "", "signature": ""}})))
        for piece in _pieces(reply.thinking, reply.chunk_chars):
            frames.append(_Frame(_sse("content_block_delta", {"type": "content_block_delta", "index": index,
                                                              "delta": {"type": "thinking_delta", "thinking": piece}}), delta=True))
        frames.append(_Frame(_sse("content_block_delta", {"type": "content_block_delta", "index": index,
                                                          "delta": {"type": "signature_delta", "signature": reply.signature}})))
        frames.append(_Frame(_sse("content_block_stop", {"type": "content_block_stop", "index": index})))
        index += 1
    for data in reply.redacted_thinking:
        frames.append(_Frame(_sse("content_block_start", {"type": "content_block_start", "index": index,
                                                          "content_block": {"type": "redacted_thinking", "data": data}})))
        frames.append(_Frame(_sse("content_block_stop", {"type": "content_block_stop", "index": index})))
        index += 1
    if reply.text or not calls:
        frames.append(_Frame(_sse("content_block_start", {"type": "content_block_start", "index": index,
                                                          "content_block": {"type": "text", "text": ""}})))
        frames.append(_Frame(_sse("ping", {"type": "ping"})))
        for piece in _pieces(reply.text, reply.chunk_chars):
            frames.append(_Frame(_sse("content_block_delta", {"type": "content_block_delta", "index": index,
                                                              "delta": {"type": "text_delta", "text": piece}}), delta=True))
        frames.append(_Frame(_sse("content_block_stop", {"type": "content_block_stop", "index": index})))
        index += 1
    for cid, spec in calls:
        frames.append(_Frame(_sse("content_block_start", {"type": "content_block_start", "index": index,
                                                          "content_block": {"type": "tool_use", "id": cid, "name": spec.name, "input": {}}})))
        frames.append(_Frame(_sse("content_block_delta", {"type": "content_block_delta", "index": index,
                                                          "delta": {"type": "input_json_delta", "partial_json": ""}})))
        for piece in _pieces(_dumps(spec.arguments), reply.chunk_chars):
            frames.append(_Frame(_sse("content_block_delta", {"type": "content_block_delta", "index": index,
                                                              "delta": {"type": "input_json_delta", "partial_json": piece}}), delta=True))
        frames.append(_Frame(_sse("content_block_stop", {"type": "content_block_stop", "index": index})))
        index += 1
    frames.append(_Frame(_sse("message_delta", {"type": "message_delta",
                                                "delta": {"stop_reason": stop, "stop_sequence": None},
                                                "usage": {"output_tokens": usage_out}})))
    frames.append(_Frame(_sse("message_stop", {"type": "message_stop"})))
    return _Stream(200, "text/event-stream; charset=utf-8", frames, streamed=True,
                   headers={"request-id": "req_fake0001", "cache-control": "no-cache", **reply.headers})


def _render_openai(reply: Reply, body: dict[str, Any], ids: _Ids) -> _Stream:
    model = reply.model or body.get("model") or "gpt-fake"
    usage_in, usage_out = reply.resolved_usage()
    finish = _OPENAI_FINISH.get(reply.resolved_stop_reason(), "stop")
    cid = ids.next("chatcmpl-fake")
    created = int(time.time())
    calls = [(spec.id or ids.next("call_fake"), spec) for spec in reply.tool_calls]
    usage = {"prompt_tokens": usage_in, "completion_tokens": usage_out, "total_tokens": usage_in + usage_out}
    if not body.get("stream"):
        message: dict[str, Any] = {"role": "assistant", "content": reply.text if (reply.text or not calls) else None,
                                   "refusal": None}
        if calls:
            message["tool_calls"] = [{"id": c, "type": "function",
                                      "function": {"name": s.name, "arguments": _dumps(s.arguments)}} for c, s in calls]
        completion = {"id": cid, "object": "chat.completion", "created": created, "model": model,
                      "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
                      "usage": usage, "system_fingerprint": "fp_fake"}
        return _Stream(200, "application/json", [_Frame(_dumps(completion).encode())], streamed=False,
                       headers=reply.headers)
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        obj: dict[str, Any] = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                               "system_fingerprint": "fp_fake",
                               "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}
        if include_usage:
            obj["usage"] = None
        return _sse(None, obj)

    frames = [_Frame(chunk({"role": "assistant", "content": "", "refusal": None}))]
    for piece in _pieces(reply.thinking or "", reply.chunk_chars):
        frames.append(_Frame(chunk({reply.reasoning_field: piece}), delta=True))
    for piece in _pieces(reply.text, reply.chunk_chars):
        frames.append(_Frame(chunk({"content": piece}), delta=True))
    for index, (call_id, spec) in enumerate(calls):
        frames.append(_Frame(chunk({"tool_calls": [{"index": index, "id": call_id, "type": "function",
                                                    "function": {"name": spec.name, "arguments": ""}}]})))
        for piece in _pieces(_dumps(spec.arguments), reply.chunk_chars):
            frames.append(_Frame(chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}), delta=True))
    frames.append(_Frame(chunk({}, finish)))
    if include_usage:
        frames.append(_Frame(_sse(None, {"id": cid, "object": "chat.completion.chunk", "created": created,
                                         "model": model, "system_fingerprint": "fp_fake", "choices": [],
                                         "usage": usage})))
    frames.append(_Frame(_sse(None, "[DONE]")))
    return _Stream(200, "text/event-stream; charset=utf-8", frames, streamed=True, headers=reply.headers)


def _ollama_time() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime())


def _render_ollama(reply: Reply, body: dict[str, Any], ids: _Ids) -> _Stream:
    model = reply.model or body.get("model") or "llama-fake"
    usage_in, usage_out = reply.resolved_usage()
    done_reason = _OLLAMA_DONE.get(reply.resolved_stop_reason(), "stop")
    calls = []
    for spec in reply.tool_calls:
        call: dict[str, Any] = {"function": {"name": spec.name, "arguments": spec.arguments}}
        if spec.id:  # Ollama only sends ids when the script asks for them.
            call["id"] = spec.id
        calls.append(call)
    final = {"model": model, "created_at": _ollama_time(), "done": True, "done_reason": done_reason,
             "total_duration": 123456789, "load_duration": 1234567, "prompt_eval_count": usage_in,
             "prompt_eval_duration": 2345678, "eval_count": usage_out, "eval_duration": 3456789}
    if body.get("stream") is False:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text}
        if reply.thinking:
            message["thinking"] = reply.thinking
        if calls:
            message["tool_calls"] = calls
        obj = {"model": model, "created_at": final["created_at"], "message": message, **{k: v for k, v in final.items() if k not in ("model", "created_at")}}
        return _Stream(200, "application/json; charset=utf-8", [_Frame(_dumps(obj).encode())], streamed=False,
                       headers=reply.headers)

    def line(message: dict[str, Any]) -> bytes:
        return (_dumps({"model": model, "created_at": _ollama_time(), "message": message, "done": False}) + "\n").encode()

    frames: list[_Frame] = []
    if reply.thinking:
        for piece in _pieces(reply.thinking, reply.chunk_chars):
            frames.append(_Frame(line({"role": "assistant", "content": "", "thinking": piece}), delta=True))
    for piece in _pieces(reply.text, reply.chunk_chars):
        frames.append(_Frame(line({"role": "assistant", "content": piece}), delta=True))
    if calls:  # tool calls arrive whole, in one chunk
        frames.append(_Frame(line({"role": "assistant", "content": "", "tool_calls": calls}), delta=True))
    frames.append(_Frame((_dumps({**final, "message": {"role": "assistant", "content": ""}}) + "\n").encode()))
    return _Stream(200, "application/x-ndjson", frames, streamed=True, headers=reply.headers)


_RENDERERS = {"anthropic": _render_anthropic, "openai": _render_openai, "ollama": _render_ollama}
_STREAM_TYPES = {"anthropic": "text/event-stream; charset=utf-8", "openai": "text/event-stream; charset=utf-8",
                 "ollama": "application/x-ndjson"}


def _render(protocol: Protocol, reply: Reply, body: dict[str, Any], ids: _Ids) -> _Stream:
    """Render ``reply`` for ``protocol``: an error, a raw transcript, or the normal reply."""
    if reply.status >= 400:
        return _render_error(protocol, reply)
    if reply.raw is not None:
        pieces = [reply.raw[i : i + reply.chunk_chars] for i in range(0, len(reply.raw), max(1, reply.chunk_chars))]
        frames = [_Frame(p, delta=True) for p in pieces] or [_Frame(b"")]
        return _Stream(reply.status, _STREAM_TYPES[protocol], frames, streamed=True, headers=reply.headers)
    stream = _RENDERERS[protocol](reply, body, ids)
    if reply.error_event is not None and stream.streamed:
        # The error replaces the stream's normal ending after the content deltas.
        last_delta = max((i for i, f in enumerate(stream.frames) if f.delta), default=0)
        stream.frames = stream.frames[: last_delta + 1]
        stream.error_frame = _mid_stream_error(protocol, reply.error_event)
    return stream


# ---------------------------------------------------------------- server


class FakeLLMServer:
    """A loopback HTTP server speaking the three providers' wire formats, scripted per test."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        """``ssl_context``: serve https with it (benchmarks of the TLS path; ``base_url`` says https)."""
        self._ssl = ssl_context
        self.requests: list[RecordedRequest] = []
        self.models: list[str] = ["fake-model-large", "fake-model-small"]
        self.require_key: str | None = None
        self._reset_local_state()
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._ids = _Ids()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._port = 0

    # ---- lifecycle

    def start(self) -> "FakeLLMServer":
        """Start the server thread and wait until it listens."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(asyncio.start_server(self._on_connect, "127.0.0.1", 0,
                                                                             ssl=self._ssl))
                self._port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:  # report any bind failure to the starting thread
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="FakeLLMServer", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("FakeLLMServer did not start within 10 seconds")
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections and join the thread."""
        if self._thread is None or self._loop is None:
            return
        loop = self._loop

        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            for task in list(self._handlers):
                task.cancel()
            await asyncio.gather(*self._handlers, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)
        self._thread = None
        self._loop = None

    def __enter__(self) -> "FakeLLMServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget the script, the recorded requests and settings; drop open (e.g. stalled) connections."""
        with self._lock:
            self._queue.clear()
        self.requests.clear()
        self.models = ["fake-model-large", "fake-model-small"]
        self.require_key = None
        self._reset_local_state()
        if self._loop is not None and self._handlers:
            async def drop() -> None:
                for task in list(self._handlers):
                    task.cancel()
                await asyncio.gather(*self._handlers, return_exceptions=True)

            asyncio.run_coroutine_threadsafe(drop(), self._loop).result(10)

    def _reset_local_state(self) -> None:
        """Settings of the local-server endpoints (Ollama management, llama.cpp, vLLM)."""
        self.model_details: dict[str, dict[str, Any]] = {}
        """Per model: ``context_length`` (int), ``capabilities`` (list), ``family``... for ``/api/show``."""
        self.loaded: list[str] = []
        """Models ``/api/ps`` reports as loaded."""
        self.pullable: dict[str, int] = {}
        """Models ``/api/pull`` can fetch, with the size in bytes of their one layer."""
        self.pull_error: str | None = None
        """An error line ``/api/pull`` sends half way (e.g. "no space left on device")."""
        self.pull_delay: float = 0.0
        """Seconds between progress lines of a pull."""
        self.pull_steps: int = 10
        """How many progress lines a pull's layer download takes."""
        self.props_n_ctx: int | None = None
        """llama.cpp's ``/props`` ``n_ctx``; None answers 404 (not llama.cpp)."""
        self.max_model_len: int | None = None
        """vLLM's ``max_model_len`` on each ``/v1/models`` entry; None leaves it out."""
        self.responder: Callable[[Protocol, Any], Reply | None] | None = None
        """Picks the reply from the request (before the script); None falls through to the script."""
        self.wire_errors: list[str] = []
        """Why chat requests were refused with 400 as the real API would (``tests.fakes.wire``)."""

    # ---- scripting

    def script(self, *replies: Reply) -> None:
        """Queue replies consumed in order by the next chat requests (any protocol)."""
        with self._lock:
            self._queue.extend(replies)

    @property
    def pending(self) -> int:
        """How many scripted replies are still queued."""
        with self._lock:
            return len(self._queue)

    def _next_reply(self, protocol: Protocol, body: Any) -> Reply:
        if self.responder is not None and (answer := self.responder(protocol, body)) is not None:
            return answer
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        return Reply(text=f"echo: {_last_user_text(protocol, body)}")

    @property
    def open_connections(self) -> int:
        """How many client connections are open right now (idle keep-alive ones included)."""
        return len(self._handlers)

    def wait_until_connections(self, n: int, timeout: float = 10.0) -> None:
        """Block until at most ``n`` connections are open (e.g. to see that a client hung up)."""
        deadline = time.monotonic() + timeout
        while len(self._handlers) > n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self._handlers)} connections still open, expected {n}")
            time.sleep(0.01)

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (append ``/v1`` for an OpenAI base URL); https when serving TLS."""
        return f"{'https' if self._ssl else 'http'}://127.0.0.1:{self._port}"

    @property
    def host_port(self) -> str:
        """``127.0.0.1:PORT``, the form ``OLLAMA_HOST`` takes."""
        return f"127.0.0.1:{self._port}"

    def chat_requests(self) -> list[RecordedRequest]:
        """The recorded chat requests (any protocol), oldest first."""
        return [r for r in list(self.requests) if r.path in ("/v1/messages", "/v1/chat/completions",
                                                               "/chat/completions", "/api/chat")]

    def wait_for_requests(self, n: int, timeout: float = 10.0) -> list[RecordedRequest]:
        """Block until at least ``n`` requests were recorded (for tests in another thread)."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"expected {n} requests, got {len(self.requests)}")
            time.sleep(0.01)
        return list(self.requests)

    # ---- HTTP

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while await self._serve_one(reader, writer):
                pass
        except (asyncio.CancelledError, ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass  # a cancelled handler, a client that hung up, or a request line we cannot parse
        finally:
            self._handlers.discard(task)
            writer.transport.abort()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; return whether the connection may be reused."""
        request_line = await reader.readline()
        if not request_line.strip():
            return False
        method, target, _version = request_line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        raw = await self._read_body(reader, headers)
        path, _, query = target.partition("?")
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        record = RecordedRequest(method, path, headers, body, raw, query, time.time())
        self.requests.append(record)
        _serving.set(record)  # this connection's task: _send stamps the first byte on it
        keep = await self._route(method, path, headers, body, reader, writer)
        return keep and headers.get("connection", "").lower() != "close"

    @staticmethod
    async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
        if "content-length" in headers:
            return await reader.readexactly(int(headers["content-length"]))
        if headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await reader.readline()).split(b";")[0].strip(), 16)
                if size == 0:
                    await reader.readline()
                    return b"".join(parts)
                parts.append(await reader.readexactly(size))
                await reader.readline()
        return b""

    async def _route(self, method: str, path: str, headers: dict[str, str], body: Any,
                     reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        protocol = self._protocol_for(path, headers)
        if self.require_key is not None and protocol in ("anthropic", "openai") and not self._authorised(protocol, headers):
            denied = Reply(status=401, error_message="invalid x-api-key" if protocol == "anthropic"
                           else "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.")
            return await self._send(reader, writer, _render_error(protocol, denied), denied)
        if method == "POST" and path in ("/v1/messages", "/v1/chat/completions", "/chat/completions", "/api/chat"):
            if problem := wire_problem(protocol, body):  # what the real API would refuse, it refuses here too
                self.wire_errors.append(problem)
                refused = Reply(status=400, error_message=problem)
                return await self._send(reader, writer, _render_error(protocol, refused), refused)
            reply = self._next_reply(protocol, body)
            if reply.first_delay:
                await asyncio.sleep(reply.first_delay)
            rendered = _render(protocol, reply, body if isinstance(body, dict) else {}, self._ids)
            return await self._send(reader, writer, rendered, reply)
        if method == "POST" and path == "/api/pull":
            stream = self._pull_stream(body or {})
            keep = await self._send(reader, writer, stream, Reply(delay=self.pull_delay))
            name = (body or {}).get("model") or (body or {}).get("name") or ""
            if stream.frames and b'"success"' in stream.frames[-1].data and name not in self.models:
                self.models.append(name)  # installed only once the whole pull went out
            return keep
        if method == "DELETE" and path == "/api/delete":
            return await self._send(reader, writer, self._delete(body or {}), Reply())
        listing = self._listing(method, path, protocol, body)
        if listing is None:
            not_found = Reply(status=404, error_message=f"Not found: {method} {path}")
            return await self._send(reader, writer, _render_error(protocol, not_found), not_found)
        return await self._send(reader, writer, _Stream(200, "application/json", [_Frame(_dumps(listing).encode())],
                                                streamed=False), Reply())

    @staticmethod
    def _protocol_for(path: str, headers: dict[str, str]) -> Protocol:
        if path.startswith("/api/"):
            return "ollama"
        if path == "/v1/messages" or "anthropic-version" in headers or "x-api-key" in headers:
            return "anthropic"
        return "openai"

    def _authorised(self, protocol: Protocol, headers: dict[str, str]) -> bool:
        if protocol == "anthropic":
            return headers.get("x-api-key") == self.require_key
        return headers.get("authorization") == f"Bearer {self.require_key}"

    def _listing(self, method: str, path: str, protocol: Protocol, body: Any) -> Any:
        """Bodies of the model-listing and metadata endpoints, or None for an unknown path."""
        models = list(self.models)
        if method == "GET" and path in ("/v1/models", "/models") and protocol == "anthropic":
            data = [{"type": "model", "id": m, "display_name": m.replace("-", " ").title(),
                     "created_at": "2025-05-22T00:00:00Z"} for m in models]
            return {"data": data, "has_more": False, "first_id": models[0] if models else None,
                    "last_id": models[-1] if models else None}
        if method == "GET" and path in ("/v1/models", "/models"):
            extra = {"max_model_len": self.max_model_len} if self.max_model_len is not None else {}
            return {"object": "list", "data": [{"id": m, "object": "model", "created": 1715367049,
                                                "owned_by": "system", **extra} for m in models]}
        if method == "GET" and path == "/props":
            if self.props_n_ctx is None:
                return None
            return {"default_generation_settings": {"n_ctx": self.props_n_ctx, "params": {}},
                    "total_slots": 1, "model_path": "/models/fake.gguf", "chat_template": ""}
        if method == "GET" and path == "/api/ps":
            return {"models": [{**self._ollama_model(m), "expires_at": "2099-01-01T00:00:00Z",
                                "size_vram": 2019393189,
                                "context_length": self.model_details.get(m, {}).get("num_ctx", 4096)}
                               for m in self.loaded]}
        if method == "GET" and path == "/api/tags":
            return {"models": [self._ollama_model(m) for m in models]}
        if method == "GET" and path == "/api/version":
            return {"version": "0.6.2"}
        if method == "POST" and path == "/api/show":
            name = (body or {}).get("model") or (body or {}).get("name") or ""
            extra = self.model_details.get(name, {})
            if extra.get("missing"):
                return None
            arch = extra.get("family", "llama")
            return {"modelfile": f"FROM {name}\n", "parameters": "num_ctx 8192", "template": "{{ .Prompt }}",
                    "details": {**self._ollama_model(name)["details"], "family": arch},
                    "model_info": {"general.architecture": arch,
                                   f"{arch}.context_length": extra.get("context_length", 131072)},
                    "capabilities": extra.get("capabilities", ["completion", "tools"]),
                    "modified_at": "2025-05-22T00:00:00Z"}
        return None

    def _pull_stream(self, body: dict[str, Any]) -> _Stream:
        """``/api/pull`` progress lines, as Ollama streams them."""
        name = body.get("model") or body.get("name") or ""

        def line(obj: dict[str, Any]) -> _Frame:
            return _Frame((_dumps(obj) + "\n").encode(), delta=True)

        frames = [line({"status": "pulling manifest"})]
        size = self.pullable.get(name)
        if size is None:
            frames.append(line({"error": "pull model manifest: file does not exist"}))
            return _Stream(200, "application/x-ndjson", frames, streamed=True)
        digest = "sha256:" + "ab" * 32
        steps = max(1, self.pull_steps)
        for i in range(steps + 1):
            frames.append(line({"status": f"pulling {digest[7:19]}", "digest": digest, "total": size,
                                "completed": size * i // steps}))
            if self.pull_error and i == steps // 2:
                frames.append(line({"error": self.pull_error}))
                return _Stream(200, "application/x-ndjson", frames, streamed=True)
        frames += [line({"status": "verifying sha256 digest"}), line({"status": "writing manifest"}),
                   line({"status": "success"})]
        return _Stream(200, "application/x-ndjson", frames, streamed=True)

    def _delete(self, body: dict[str, Any]) -> _Stream:
        name = body.get("model") or body.get("name") or ""
        if name not in self.models:
            data = _dumps({"error": f"model '{name}' not found"}).encode()
            return _Stream(404, "application/json; charset=utf-8", [_Frame(data)], streamed=False)
        self.models.remove(name)
        return _Stream(200, "text/plain; charset=utf-8", [_Frame(b"")], streamed=False)

    @staticmethod
    def _ollama_model(name: str) -> dict[str, Any]:
        return {"name": name, "model": name, "modified_at": "2025-05-22T00:00:00Z", "size": 2019393189,
                "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
                "details": {"parent_model": "", "format": "gguf", "family": "llama", "families": ["llama"],
                            "parameter_size": "3.2B", "quantization_level": "Q4_K_M"}}

    async def _send(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stream: _Stream,
                    reply: Reply) -> bool:
        """Write a response; return whether the connection may be reused."""
        head = [f"HTTP/1.1 {stream.status} {_REASONS.get(stream.status, 'Status')}",
                f"content-type: {stream.content_type}", "connection: keep-alive"]
        if stream.streamed:
            head.append("transfer-encoding: chunked")
        else:
            head.append(f"content-length: {sum(len(f.data) for f in stream.frames)}")
        head += [f"{k}: {v}" for k, v in stream.headers.items()]
        record = _serving.get(None)
        if record is not None and not record.first_byte_at:
            record.first_byte_at = time.time()
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        if not stream.streamed:
            writer.write(b"".join(f.data for f in stream.frames))
            await writer.drain()
            return True
        await writer.drain()
        cut = _after_deltas(stream.frames, reply.cut_after_chunks)
        stall = _after_deltas(stream.frames, reply.stall_after_chunks)
        deltas = 0
        pending: list[bytes] = []  # frames of the current burst, written together

        async def write_pending() -> None:
            if pending:
                writer.write(b"".join(pending))
                pending.clear()
                await writer.drain()

        for position, frame in enumerate([*stream.frames, None]):
            if position in (cut, stall) or frame is None or (frame.delta and reply.delay and deltas):
                await write_pending()
            if position == cut:
                writer.transport.abort()  # drop the connection mid-body
                return False
            if position == stall:
                # Send nothing more; hold the connection until the client closes it (or reset()/stop()).
                while await reader.read(65536):
                    pass
                return False
            if frame is None:
                break
            if frame.delta:
                if reply.delay and deltas:
                    await asyncio.sleep(reply.delay)
                deltas += 1
            if frame.data:
                pending.append(b"%x\r\n%s\r\n" % (len(frame.data), frame.data))
                if len(pending) >= reply.burst:
                    await write_pending()
        if stream.error_frame is not None:
            writer.write(b"%x\r\n%s\r\n" % (len(stream.error_frame), stream.error_frame))
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True


def _after_deltas(frames: list[_Frame], n: int | None) -> int | None:
    """The frame position right after the ``n``-th delta frame (before the first one when n is 0)."""
    if n is None:
        return None
    positions = [i for i, f in enumerate(frames) if f.delta]
    if not positions:
        return len(frames)
    if n == 0:
        return positions[0]
    return positions[min(n, len(positions)) - 1] + 1


def iter_frames(protocol: Protocol, reply: Reply, body: dict[str, Any] | None = None) -> Iterator[bytes]:
    """The body bytes of ``reply`` for ``protocol``, frame by frame (for parser tests without HTTP)."""
    stream = _render(protocol, reply, body if body is not None else {"stream": True}, _Ids())
    for frame in stream.frames:
        yield frame.data
    if stream.error_frame is not None:
        yield stream.error_frame
