"""OpenAI Chat Completions adapter (``POST {base}/chat/completions``, Server-Sent Events).

Also serves any OpenAI-compatible server (vLLM, llama.cpp, LM Studio, Ollama's
``/v1``) through ``base_url``; such servers often need no key.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import httpx

from ..errors import ProviderError
from ..images import check_size
from ..types import Image, Message, ToolCall, ToolDefinition, Usage
from . import base  # its stream events are made at first use
from ._errors import error_from_payload
from ._http import HTTPProvider
from .decoding import SSEDecoder, loads
from .thinking import ThinkTagSplitter, normalize_thinking

if TYPE_CHECKING:  # pragma: no cover
    from .base import StreamEvent

__all__ = ["OpenAIProvider", "to_openai_messages", "tool_result_text"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
MAX_IMAGE_BYTES = 20 * 1024 * 1024
"""OpenAI takes images of at most 20 MB."""

_FINISH_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "end_turn",
}


def tool_result_text(message: Message) -> str:
    """A tool result's content; an error says so, since these APIs have no error flag."""
    if message.is_error and not message.content.lower().startswith("error"):
        return f"Error: {message.content}"
    return message.content


def _function_tools(tools: Sequence[ToolDefinition]) -> list[dict[str, Any]]:
    return [{"type": "function", "function": {"name": t.name, "description": t.description,
                                              "parameters": t.parameters}} for t in tools]


def _image_part(image: Image) -> dict[str, Any]:
    check_size(image, MAX_IMAGE_BYTES, "OpenAI")
    data = base64.b64encode(image.data).decode("ascii")
    return {"type": "image_url", "image_url": {"url": f"data:{image.media_type};base64,{data}"}}


def _user_content(message: Message) -> str | list[dict[str, Any]]:
    if not message.images:
        return message.content
    parts: list[dict[str, Any]] = [{"type": "text", "text": message.content}] if message.content else []
    return parts + [_image_part(image) for image in message.images]


def to_openai_messages(messages: Sequence[Message], system: str | None = None) -> list[dict[str, Any]]:
    """Our messages as Chat Completions messages: system first, ``tool_calls`` and ``role: tool``.

    Images become ``image_url`` data-URL parts (a tool result's, in a user message after the results);
    thinking is never sent back.
    """
    out: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    # A Chat Completions tool message takes text parts only, so the images of tool results go in one user
    # message after the round's tool messages (placed earlier, it would split the calls from their results).
    pending: list[dict[str, Any]] = []
    for message in messages:
        if pending and message.role != "tool":
            out.append({"role": "user", "content": pending})
            pending = []
        if message.role == "tool":
            out.append({"role": "tool", "tool_call_id": message.tool_call_id or "",
                        "content": tool_result_text(message)})
            if message.images:
                pending += _tool_images_parts(message)
        elif message.role == "assistant" and message.tool_calls:
            out.append({"role": "assistant", "content": message.content or None,
                        "tool_calls": [{"id": c.id, "type": "function",
                                        "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
                                       for c in message.tool_calls]})
        elif message.role == "user":
            out.append({"role": "user", "content": _user_content(message)})
        else:
            out.append({"role": message.role, "content": message.content})
    if pending:
        out.append({"role": "user", "content": pending})
    return out


def _tool_images_parts(message: Message) -> list[dict[str, Any]]:
    """A user message's parts that carry a tool result's images, naming the call they came from."""
    count = len(message.images)
    images = "images" if count > 1 else "image"
    label = f"The tool call {message.tool_call_id} ({message.name or 'tool'}) returned {count} {images}:"
    return [{"type": "text", "text": label}] + [_image_part(image) for image in message.images]


class _Call:
    __slots__ = ("index", "id", "name", "parts")

    def __init__(self, index: int, id: str, name: str) -> None:
        self.index = index
        self.id = id
        self.name = name
        self.parts: list[str] = []


class _OpenAIParser:
    """Chat Completions chunks to stream events."""

    __slots__ = ("_provider", "_sse", "text", "error", "_calls", "_by_index", "_finish", "_usage", "_done", "_closed",
                 "_think")

    def __init__(self, provider: "OpenAIProvider") -> None:
        self._provider = provider
        self._sse = SSEDecoder()
        self.text: list[str] = []
        self.error: ProviderError | None = None
        self._calls: list[_Call] = []
        self._by_index: dict[int, _Call] = {}
        self._finish: str | None = None
        self._usage: Usage | None = None
        self._done = False
        self._closed = 0
        self._think = ThinkTagSplitter()

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        try:
            for _name, data in self._sse.feed(chunk):
                self._handle(data, out)
        except ProviderError as exc:
            if not out:
                raise
            self.error = exc  # the events before it go out first; the stream raises it next
        return out

    def finish(self) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        try:
            for _name, data in self._sse.close():
                self._handle(data, out)
            if not self._done:
                if self._finish is None:
                    raise self._provider._premature_end()
                self._end(out)  # some compatible servers omit [DONE]
        except ProviderError as exc:
            if not out:
                raise
            self.error = exc
        return out

    def _handle(self, data: str, out: list[StreamEvent]) -> None:
        if self._done:
            return
        if data == "[DONE]":
            self._end(out)
            return
        try:
            chunk = loads(data)
            error = chunk.get("error")
            if error:
                raise error_from_payload(self._provider.label, error, self._provider._secret)
            usage = chunk.get("usage")
            if usage:
                self._usage = Usage(input_tokens=usage.get("prompt_tokens") or 0,
                                    output_tokens=usage.get("completion_tokens") or 0)
            for choice in chunk.get("choices") or ():
                if choice.get("index", 0) != 0:
                    continue  # n > 1 is not supported: the first choice is the reply
                delta = choice.get("delta")
                if delta:
                    reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                    if reasoning:
                        out.append(base.ThinkingDeltaEvent(reasoning))
                    content = delta.get("content")
                    if content:
                        self._content(content, out)
                    calls = delta.get("tool_calls")
                    if calls:
                        self._tool_deltas(calls, out)
                reason = choice.get("finish_reason")
                if reason:
                    self._finish = reason
                    self._close_calls(out)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise self._provider._malformed(f"{type(exc).__name__} in a chunk") from exc

    def _content(self, content: str, out: list[StreamEvent]) -> None:
        thinking, text = self._think.feed(content)
        if thinking:
            out.append(base.ThinkingDeltaEvent(thinking))
        if text:
            self.text.append(text)
            out.append(base.TextDeltaEvent(text))

    def _tool_deltas(self, deltas: list[dict[str, Any]], out: list[StreamEvent]) -> None:
        for position, delta in enumerate(deltas):
            index = delta.get("index", position)
            function = delta.get("function") or {}
            call = self._by_index.get(index)
            if call is None:
                number = len(self._calls)
                call_id = delta.get("id") or f"call_{number}_{id(self):x}"
                call = _Call(number, call_id, function.get("name") or "")
                self._calls.append(call)
                self._by_index[index] = call
                out.append(base.ToolCallStartEvent(call.index, call.id, call.name))
            fragment = function.get("arguments")
            if fragment:
                call.parts.append(fragment)
                out.append(base.ToolCallDeltaEvent(call.index, fragment))

    def _close_calls(self, out: list[StreamEvent]) -> None:
        for call in self._calls:
            raw = "".join(call.parts).strip()
            arguments = json.loads(raw) if raw else {}
            if not isinstance(arguments, dict):
                raise TypeError("tool arguments are not an object")
            out.append(base.ToolCallEndEvent(call.index, ToolCall(id=call.id, name=call.name, arguments=arguments)))
        self._closed += len(self._calls)
        self._calls = []
        self._by_index = {}

    def _end(self, out: list[StreamEvent]) -> None:
        self._done = True
        thinking, text = self._think.finish()
        if thinking:
            out.append(base.ThinkingDeltaEvent(thinking))
        if text:
            self.text.append(text)
            out.append(base.TextDeltaEvent(text))
        if self._calls:
            self._close_calls(out)
        if self._usage is not None:
            out.append(base.UsageEvent(self._usage))
        raw = self._finish
        reason = _FINISH_REASONS.get(raw or "", "end_turn")
        if reason == "end_turn" and self._closed:
            reason = "tool_use"  # some compatible servers say "stop" after tool calls
        out.append(base.StopEvent(reason, raw))


class OpenAIProvider(HTTPProvider):
    """GPT through Chat Completions. Base URL (with ``/v1``): argument, ``OPENAI_BASE_URL`` or the public API.

    With a custom base URL a key is optional, and ``max_tokens`` is sent under
    that name (compatible servers know it); the public API gets
    ``max_completion_tokens``, which its newer models require.
    """

    name = "openai"
    chat_path = "/chat/completions"
    label = "OpenAI"
    max_image_bytes = MAX_IMAGE_BYTES

    def __init__(self, *, base_url: str | None = None, thinking: Any = None, **kwargs: Any) -> None:
        url = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        self.thinking = normalize_thinking(thinking)
        self._windows: dict[str, int] = {}
        self.custom_base_url = url.rstrip("/") != DEFAULT_BASE_URL
        self.key_required = not self.custom_base_url
        super().__init__(base_url=url, **kwargs)


    def build_request(self, messages: Sequence[Message], system: str | None = None,
                      tools: Sequence[ToolDefinition] | None = None, **options: Any) -> dict[str, Any]:
        """The JSON body of a streaming Chat Completions request."""
        opts = self._merged(options)
        body: dict[str, Any] = {
            "model": opts.get("model") or self.model,
            "messages": to_openai_messages(messages, system),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if tools:
            body["tools"] = _function_tools(tools)
        if opts.get("temperature") is not None:
            body["temperature"] = opts["temperature"]
        if opts.get("top_p") is not None:
            body["top_p"] = opts["top_p"]
        if opts.get("max_tokens"):
            body["max_tokens" if self.custom_base_url else "max_completion_tokens"] = int(opts["max_tokens"])
        if opts.get("stop"):
            body["stop"] = opts["stop"]
        thinking = self.thinking if options.get("thinking") is None else normalize_thinking(options["thinking"])
        if thinking is not None and thinking.enabled:
            # The one request field Chat Completions defines for it; compatible servers that
            # always reason ignore it and stream reasoning_content / reasoning anyway.
            body["reasoning_effort"] = thinking.level or "medium"
        body.update(opts.get("extra_body") or {})
        return body

    def _new_parser(self) -> _OpenAIParser:
        return _OpenAIParser(self)

    async def list_models(self) -> list[str]:
        """Model ids from ``GET {base}/models``, sorted."""
        page = await self._request_json("GET", "/models")
        return sorted(m["id"] for m in page.get("data", []) if m.get("id"))

    async def get_context_window(self, model: str | None = None) -> int:
        """The window the server runs ``model`` with: vLLM's ``max_model_len`` in ``/models``, llama.cpp's
        ``/props`` ``n_ctx``; the known table for the public API or when the server says neither."""
        name = model or self.model
        if not self.custom_base_url:
            return await super().get_context_window(name)
        cached = self._windows.get(name)
        if cached is None:
            cached = await self._served_window(name) or await super().get_context_window(name)
            self._windows[name] = cached
        return cached

    async def _served_window(self, model: str) -> int | None:
        try:
            page = await self._request_json("GET", "/models")
            entries = [m for m in page.get("data") or () if isinstance(m, dict)]
            for entry in sorted(entries, key=lambda m: m.get("id") != model):  # the model's own entry first
                if isinstance(entry.get("max_model_len"), int):
                    return entry["max_model_len"]
        except (ProviderError, AttributeError, TypeError):
            pass
        root = self.base_url[: -len("/v1")] if self.base_url.endswith("/v1") else self.base_url
        try:
            response = await self._client.get(root + "/props", headers=self._auth_headers(self._secret))
            if response.status_code == 200:
                props = response.json()
                n_ctx = (props.get("default_generation_settings") or {}).get("n_ctx") or props.get("n_ctx")
                if isinstance(n_ctx, int) and n_ctx > 0:
                    return n_ctx
        except (httpx.HTTPError, ValueError, AttributeError):
            pass
        return None
