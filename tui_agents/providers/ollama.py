"""Ollama adapter (``POST /api/chat``, newline-delimited JSON). No key needed."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ProviderError
from ..types import Message, ToolCall, ToolDefinition, Usage
from . import base  # its stream events are made at first use
from ._errors import error_from_payload
from ._http import HTTPProvider
from .decoding import NDJSONDecoder, loads
from .models import context_window as known_context_window
from .openai import _function_tools, tool_result_text
from .thinking import ThinkTagSplitter, normalize_thinking

if TYPE_CHECKING:  # pragma: no cover
    from .base import StreamEvent

__all__ = ["OllamaProvider", "ollama_base_url", "to_ollama_messages", "fit_num_ctx", "DEFAULT_OLLAMA_URL"]

DEFAULT_OLLAMA_URL = "http://localhost:11434"
_DEFAULT_PORT = 11434
_DONE_REASONS = {"stop": "end_turn", "length": "max_tokens"}
MIN_NUM_CTX = 4_096  # Ollama's own default; asking for less gains nothing
REPLY_RESERVE = 2_048  # room left for the reply when no max_tokens is given
IMAGE_TOKENS = 1_024  # a vision model's tokens for one image, generously
# A server told to listen everywhere is reached on loopback.
_ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "[::]": "[::1]", "::": "[::1]"}


def ollama_base_url(host: str | None = None) -> str:
    """The base URL for an ``OLLAMA_HOST`` value, read the way Ollama reads it.

    ``host``, ``host:port``, ``:port``, ``http://host[:port]``, ``https://host[:port]``,
    ``[ipv6]:port`` and a path suffix are accepted. The port defaults to 11434
    without a scheme, and to 80 / 443 with ``http://`` / ``https://``.
    """
    value = (host if host is not None else os.environ.get("OLLAMA_HOST", "")).strip()
    if not value:
        return DEFAULT_OLLAMA_URL
    scheme, sep, rest = value.partition("://")
    if sep:
        scheme = scheme.lower()
        default_port = 443 if scheme == "https" else 80
    else:
        scheme, rest, default_port = "http", value, _DEFAULT_PORT
    hostport, slash, path = rest.partition("/")
    if hostport.startswith("["):  # [ipv6] or [ipv6]:port
        end = hostport.find("]")
        hostname, port_text = hostport[: end + 1], hostport[end + 2 :]
    elif hostport.count(":") == 1:
        hostname, port_text = hostport.split(":")
    elif hostport.count(":") > 1:  # a bare IPv6 address
        hostname, port_text = f"[{hostport}]", ""
    else:
        hostname, port_text = hostport, ""
    hostname = _ANY_ADDRESS.get(hostname, hostname) or "127.0.0.1"
    port = int(port_text) if port_text.isdigit() else default_port
    suffix = f"/{path.rstrip('/')}" if slash and path.strip("/") else ""
    return f"{scheme}://{hostname}:{port}{suffix}"


def to_ollama_messages(messages: Sequence[Message], system: str | None = None) -> list[dict[str, Any]]:
    """Our messages as Ollama chat messages: ``tool_calls`` with object arguments, ``role: tool`` results."""
    out: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    names: dict[str, str] = {}
    for message in messages:
        if message.role == "tool":
            entry = {"role": "tool", "content": tool_result_text(message)}
            name = message.name or names.get(message.tool_call_id or "")
            if name:
                entry["tool_name"] = name
            if message.images:  # an MCP tool's images: any /api/chat message may carry ``images``
                entry["images"] = [base64.b64encode(image.data).decode("ascii") for image in message.images]
            out.append(entry)
        elif message.role == "assistant" and message.tool_calls:
            names.update((c.id, c.name) for c in message.tool_calls)
            out.append({"role": "assistant", "content": message.content,
                        "tool_calls": [{"function": {"name": c.name, "arguments": c.arguments}}
                                       for c in message.tool_calls]})
        else:
            entry = {"role": message.role, "content": message.content}
            if message.images and message.role == "user":
                entry["images"] = [base64.b64encode(image.data).decode("ascii") for image in message.images]
            out.append(entry)
    return out


def _estimate_tokens(body: dict[str, Any]) -> int:
    """A generous guess of a request's prompt tokens: three characters a token, images a fixed amount."""
    chars = 0
    images = 0
    for message in body["messages"]:
        chars += len(message.get("content") or "") + 16
        images += len(message.get("images") or ())
        for call in message.get("tool_calls") or ():
            chars += len(json.dumps(call, ensure_ascii=False))
    if body.get("tools"):
        chars += len(json.dumps(body["tools"], ensure_ascii=False))
    return chars // 3 + images * IMAGE_TOKENS


def fit_num_ctx(prompt_tokens: int, reply_tokens: int, model_window: int) -> int:
    """The ``num_ctx`` for a request: the next power of two that holds prompt and reply, up to the model's window.

    Powers of two because Ollama reloads a model whenever ``num_ctx`` changes:
    a growing thread crosses a step a few times, not at every message.
    """
    needed = max(MIN_NUM_CTX, prompt_tokens + reply_tokens)
    size = 1 << (needed - 1).bit_length()
    return max(1, min(size, model_window))


class _OllamaParser:
    """Ollama's NDJSON chunks to stream events."""

    __slots__ = ("_provider", "_lines", "text", "error", "_calls", "_done", "_think")

    def __init__(self, provider: "OllamaProvider") -> None:
        self._provider = provider
        self._lines = NDJSONDecoder()
        self.text: list[str] = []
        self.error: ProviderError | None = None
        self._calls = 0
        self._done = False
        self._think = ThinkTagSplitter()

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        return self._handle_lines(self._lines.feed_lines(chunk), False)

    def finish(self) -> list[StreamEvent]:
        return self._handle_lines(self._lines.close_lines(), True)

    def _handle_lines(self, lines: list[bytes], last: bool) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        try:
            for line in lines:
                try:
                    obj = loads(line)
                except ValueError as exc:
                    raise self._provider._malformed("a line is not JSON") from exc
                self._handle(obj, out)
            if last and not self._done:
                raise self._provider._premature_end()
        except ProviderError as exc:
            if not out:
                raise
            self.error = exc  # the events before it go out first; the stream raises it next
        return out

    def _handle(self, obj: Any, out: list[StreamEvent]) -> None:
        if self._done:
            return
        try:
            if "error" in obj:
                raise error_from_payload(self._provider.label, obj["error"], self._provider._secret)
            message = obj.get("message")
            if message:
                thinking = message.get("thinking")
                if thinking:
                    out.append(base.ThinkingDeltaEvent(thinking))
                content = message.get("content")
                if content:
                    self._content(*self._think.feed(content), out)
                calls = message.get("tool_calls")
                if calls:
                    self._tool_calls(calls, obj.get("created_at") or "", out)
            if obj.get("done"):
                self._done = True
                self._content(*self._think.finish(), out)
                out.append(base.UsageEvent(Usage(input_tokens=obj.get("prompt_eval_count") or 0,
                                                 output_tokens=obj.get("eval_count") or 0)))
                raw = obj.get("done_reason")
                reason = _DONE_REASONS.get(raw or "", "end_turn")
                if reason == "end_turn" and self._calls:
                    reason = "tool_use"  # Ollama says "stop" after tool calls
                out.append(base.StopEvent(reason, raw))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise self._provider._malformed(f"{type(exc).__name__} in a line") from exc

    def _content(self, thinking: str, text: str, out: list[StreamEvent]) -> None:
        if thinking:
            out.append(base.ThinkingDeltaEvent(thinking))
        if text:
            self.text.append(text)
            out.append(base.TextDeltaEvent(text))

    def _tool_calls(self, calls: list[dict[str, Any]], created_at: str, out: list[StreamEvent]) -> None:
        for call in calls:
            function = call["function"]
            name = function["name"]
            arguments = function.get("arguments") or {}
            if isinstance(arguments, str):
                arguments = json.loads(arguments) if arguments.strip() else {}
            if not isinstance(arguments, dict):
                raise TypeError("tool arguments are not an object")
            index = self._calls
            self._calls += 1
            text = json.dumps(arguments, ensure_ascii=False)
            # Ollama sends no call ids: derive one from the reply, stable and unique per call.
            call_id = call.get("id") or "call_" + hashlib.sha1(
                f"{created_at}\0{index}\0{name}\0{text}".encode()).hexdigest()[:20]
            out.append(base.ToolCallStartEvent(index, call_id, name))
            out.append(base.ToolCallDeltaEvent(index, text))
            out.append(base.ToolCallEndEvent(index, ToolCall(id=call_id, name=name, arguments=arguments)))


class OllamaProvider(HTTPProvider):
    """A local model through Ollama. Base URL: argument, ``OLLAMA_HOST`` or ``http://localhost:11434``."""

    name = "ollama"
    chat_path = "/api/chat"
    label = "Ollama"
    key_required = False

    def __init__(self, *, base_url: str | None = None, thinking: Any = None, **kwargs: Any) -> None:
        url = ollama_base_url(base_url) if base_url else ollama_base_url()
        self.thinking = normalize_thinking(thinking)
        self._shown: dict[str, dict[str, Any]] = {}
        self._showing: dict[str, asyncio.Future[dict[str, Any]]] = {}
        super().__init__(base_url=url, **kwargs)


    def build_request(self, messages: Sequence[Message], system: str | None = None,
                      tools: Sequence[ToolDefinition] | None = None, **options: Any) -> dict[str, Any]:
        """The JSON body of a streaming ``/api/chat`` request."""
        opts = self._merged(options)
        body: dict[str, Any] = {
            "model": opts.get("model") or self.model,
            "messages": to_ollama_messages(messages, system),
            "stream": True,
        }
        if tools:
            body["tools"] = _function_tools(tools)
        model_options: dict[str, Any] = {}
        if opts.get("temperature") is not None:
            model_options["temperature"] = opts["temperature"]
        if opts.get("top_p") is not None:
            model_options["top_p"] = opts["top_p"]
        if opts.get("max_tokens"):
            model_options["num_predict"] = int(opts["max_tokens"])
        stop = opts.get("stop")
        if stop:
            model_options["stop"] = [stop] if isinstance(stop, str) else list(stop)
        if model_options:
            body["options"] = model_options
        thinking = self.thinking if options.get("thinking") is None else normalize_thinking(options["thinking"])
        if thinking is not None:
            # "low" | "medium" | "high" for the models that take a level (gpt-oss), else true/false.
            body["think"] = (thinking.level or True) if thinking.enabled else False
        body.update(opts.get("extra_body") or {})
        return body

    def stream(self, messages: Sequence[Message], system: str | None = None,
               tools: Sequence[ToolDefinition] | None = None, **options: Any) -> AsyncIterator[StreamEvent]:
        """Stream one reply; ``options.num_ctx`` is set to hold the request, up to the model's window."""
        body = self.build_request(messages, system, tools, **options)
        return self._stream_fitted(body, options.get("max_tokens") or self._options.get("max_tokens"))

    async def _stream_fitted(self, body: dict[str, Any], max_tokens: Any) -> AsyncIterator[StreamEvent]:
        model_options = body["options"] = dict(body.get("options") or {})  # never the caller's extra_body dict
        if "num_ctx" not in model_options:
            # Unless told, Ollama cuts the prompt to its small default window without a word.
            window = await self.get_context_window(body["model"])
            thinks = body.get("think") not in (None, False)  # thoughts take room in the window too
            reply = int(max_tokens) if max_tokens else REPLY_RESERVE * (4 if thinks else 1)
            model_options["num_ctx"] = fit_num_ctx(_estimate_tokens(body), reply, window)
        async for event in self._stream(self.chat_path, body, self._new_parser):
            yield event

    async def get_context_window(self, model: str | None = None) -> int:
        """The model's own context length from ``/api/show`` (cached per model), else the known table."""
        name = model or self.model
        info = await self._show_cached(name)
        length = _context_length(info)
        return length or known_context_window(self.name, name)

    async def capabilities(self, model: str | None = None) -> frozenset[str] | None:
        """What the model can do per ``/api/show``: "completion", "vision", "tools", "thinking", "embedding"..."""
        info = await self._show_cached(model or self.model)
        caps = info.get("capabilities")
        return frozenset(caps) if isinstance(caps, list) else None

    async def _show_cached(self, model: str) -> dict[str, Any]:
        info = self._shown.get(model)
        if info is not None:
            return info
        asking = self._showing.get(model)
        if asking is None:  # one request per model at a time: the provider check and the warm-up both ask at start
            asking = self._showing[model] = asyncio.ensure_future(self.show(model))
            asking.add_done_callback(lambda done: self._shown_or_forgotten(model, done))
        return await asyncio.shield(asking)  # a caller that gives up does not cancel the others' request

    def _shown_or_forgotten(self, model: str, done: asyncio.Future[dict[str, Any]]) -> None:
        if self._showing.get(model) is not done:
            return  # forgotten while it was asked (a pull, a delete): not kept
        del self._showing[model]
        if not done.cancelled() and done.exception() is None:  # a failure is asked again next time
            self._shown[model] = done.result()

    def forget(self, model: str | None = None) -> None:
        """Drop cached ``/api/show`` details (all, or one model's), e.g. after a pull or a delete."""
        if model is None:
            self._shown.clear()
            self._showing.clear()
        else:
            self._shown.pop(model, None)
            self._showing.pop(model, None)

    def _new_parser(self) -> _OllamaParser:
        return _OllamaParser(self)

    async def list_models(self) -> list[str]:
        """Installed model names from ``GET /api/tags``."""
        tags = await self._request_json("GET", "/api/tags")
        return [m.get("name") or m.get("model") for m in tags.get("models", []) if m.get("name") or m.get("model")]

    async def show(self, model: str | None = None) -> dict[str, Any]:
        """Details of a model from ``POST /api/show`` (template, parameters, ``model_info``, capabilities)."""
        return await self._request_json("POST", "/api/show", json_body={"model": model or self.model})

    async def version(self) -> str:
        """The server's version from ``GET /api/version``: a cheap "is Ollama running?" check."""
        return str((await self._request_json("GET", "/api/version")).get("version", ""))


def _context_length(info: dict[str, Any]) -> int | None:
    """``<architecture>.context_length`` of an ``/api/show`` reply's ``model_info``."""
    model_info = info.get("model_info") or {}
    arch = model_info.get("general.architecture")
    value = model_info.get(f"{arch}.context_length") if arch else None
    if not isinstance(value, int):
        value = next((v for k, v in model_info.items() if k.endswith(".context_length") and isinstance(v, int)), None)
    return value if value and value > 0 else None
