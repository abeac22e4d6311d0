"""Ollama adapter (``POST /api/chat``, newline-delimited JSON). No key needed."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from typing import Any

from ..errors import ProviderError
from ..types import Message, ToolCall, ToolDefinition, Usage
from ._errors import error_from_payload
from ._http import HTTPProvider
from .base import (
    StopEvent,
    StreamEvent,
    TextDeltaEvent,
    ToolCallDeltaEvent,
    ToolCallEndEvent,
    ToolCallStartEvent,
    UsageEvent,
)
from .decoding import NDJSONDecoder, loads
from .openai import _function_tools, tool_result_text

__all__ = ["OllamaProvider", "ollama_base_url", "to_ollama_messages", "DEFAULT_OLLAMA_URL"]

DEFAULT_OLLAMA_URL = "http://localhost:11434"
_DEFAULT_PORT = 11434
_DONE_REASONS = {"stop": "end_turn", "length": "max_tokens"}
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
            out.append(entry)
        elif message.role == "assistant" and message.tool_calls:
            names.update((c.id, c.name) for c in message.tool_calls)
            out.append({"role": "assistant", "content": message.content,
                        "tool_calls": [{"function": {"name": c.name, "arguments": c.arguments}}
                                       for c in message.tool_calls]})
        else:
            out.append({"role": message.role, "content": message.content})
    return out


class _OllamaParser:
    """Ollama's NDJSON chunks to stream events."""

    __slots__ = ("_provider", "_lines", "text", "error", "_calls", "_done")

    def __init__(self, provider: "OllamaProvider") -> None:
        self._provider = provider
        self._lines = NDJSONDecoder()
        self.text: list[str] = []
        self.error: ProviderError | None = None
        self._calls = 0
        self._done = False

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
                content = message.get("content")
                if content:
                    self.text.append(content)
                    out.append(TextDeltaEvent(content))
                calls = message.get("tool_calls")
                if calls:
                    self._tool_calls(calls, obj.get("created_at") or "", out)
            if obj.get("done"):
                self._done = True
                out.append(UsageEvent(Usage(input_tokens=obj.get("prompt_eval_count") or 0,
                                            output_tokens=obj.get("eval_count") or 0)))
                raw = obj.get("done_reason")
                reason = _DONE_REASONS.get(raw or "", "end_turn")
                if reason == "end_turn" and self._calls:
                    reason = "tool_use"  # Ollama says "stop" after tool calls
                out.append(StopEvent(reason, raw))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise self._provider._malformed(f"{type(exc).__name__} in a line") from exc

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
            out.append(ToolCallStartEvent(index, call_id, name))
            out.append(ToolCallDeltaEvent(index, text))
            out.append(ToolCallEndEvent(index, ToolCall(id=call_id, name=name, arguments=arguments)))


class OllamaProvider(HTTPProvider):
    """A local model through Ollama. Base URL: argument, ``OLLAMA_HOST`` or ``http://localhost:11434``."""

    name = "ollama"
    chat_path = "/api/chat"
    label = "Ollama"
    key_required = False

    def __init__(self, *, base_url: str | None = None, **kwargs: Any) -> None:
        url = ollama_base_url(base_url) if base_url else ollama_base_url()
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
        body.update(opts.get("extra_body") or {})
        return body

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
