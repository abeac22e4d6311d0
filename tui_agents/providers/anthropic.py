"""Anthropic Messages API adapter (``POST /v1/messages``, Server-Sent Events)."""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ProviderError
from ..images import check_size
from ..types import Image, Message, ToolCall, ToolDefinition, Usage
from . import base  # its stream events are made at first use
from ._errors import error_from_payload
from ._http import HTTPProvider
from .decoding import SSEDecoder, SSEEvent, loads
from .thinking import normalize_thinking

if TYPE_CHECKING:  # pragma: no cover
    from .base import StreamEvent

__all__ = ["AnthropicProvider", "to_anthropic_messages", "ANTHROPIC_VERSION", "DEFAULT_MAX_TOKENS"]

DEFAULT_BASE_URL = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
"""Anthropic requires ``max_tokens``; this is used when the caller gives none."""
MAX_IMAGE_BYTES = 5 * 1024 * 1024 * 3 // 4
"""The API takes images of at most 5 MB of base64, i.e. 3.75 MB of image bytes."""

_TEXT_DELTA = re.compile(
    r'\{"type":"content_block_delta","index":(?:0|[1-9][0-9]*),"delta":\{"type":"text_delta","text":"'
).match
_THINKING_DELTA = re.compile(
    r'\{"type":"content_block_delta","index":(0|[1-9][0-9]*),"delta":\{"type":"thinking_delta","thinking":"'
).match
_scanstring = json.decoder.scanstring  # the C string scanner json.loads itself uses

_STOP_REASONS = {
    "end_turn": "end_turn",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "model_context_window_exceeded": "max_tokens",
}


def _blocks(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(content, list):
        return content
    return [{"type": "text", "text": content}] if content else []


def _append(out: list[dict[str, Any]], role: str, content: str | list[dict[str, Any]]) -> None:
    """Append a message, merging it into the previous one when the role repeats (the API demands alternation)."""
    if out and out[-1]["role"] == role:
        out[-1]["content"] = _blocks(out[-1]["content"]) + _blocks(content)
    else:
        out.append({"role": role, "content": content})


def _image_block(image: Image) -> dict[str, Any]:
    check_size(image, MAX_IMAGE_BYTES, "Anthropic")
    return {"type": "image", "source": {"type": "base64", "media_type": image.media_type,
                                        "data": base64.b64encode(image.data).decode("ascii")}}


def _user_content(message: Message) -> str | list[dict[str, Any]]:
    """A user message's content: its text, after its images (the order Anthropic recommends)."""
    if not message.images:
        return message.content
    blocks = [_image_block(image) for image in message.images]
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    return blocks


def _tool_result_content(message: Message) -> str | list[dict[str, Any]]:
    """A tool result's content: its text, then its images (a ``tool_result`` may hold image blocks)."""
    if not message.images:
        return message.content
    return _blocks(message.content) + [_image_block(image) for image in message.images]


def to_anthropic_messages(messages: Sequence[Message], system: str | None = None) -> tuple[str | None, list[dict[str, Any]]]:
    """Our messages as Anthropic's ``(system, messages)``: tool results become ``tool_result`` blocks.

    Thinking blocks of the assistant messages after the last user message (a
    tool-using turn in progress) go back first in their message, unchanged.
    """
    systems = [system] if system else []
    out: list[dict[str, Any]] = []
    last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1)
    for position, message in enumerate(messages):
        if message.role == "system":
            if message.content:
                systems.append(message.content)
        elif message.role == "user":
            _append(out, "user", _user_content(message))
        elif message.role == "tool":
            block: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id or "",
                                     "content": _tool_result_content(message)}
            if message.is_error:
                block["is_error"] = True
            _append(out, "user", [block])
        else:
            thinking = [dict(b) for b in message.thinking_blocks] if position > last_user else []
            blocks = thinking + _blocks(message.content)
            blocks += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
                       for c in message.tool_calls]
            if blocks:  # the API rejects an assistant message with empty content
                plain = not message.tool_calls and not thinking
                _append(out, "assistant", message.content if plain else blocks)
    return ("\n\n".join(systems) or None), out


class _PendingCall:
    __slots__ = ("index", "id", "name", "parts", "initial")

    def __init__(self, index: int, id: str, name: str, initial: dict[str, Any]) -> None:
        self.index = index
        self.id = id
        self.name = name
        self.parts: list[str] = []
        self.initial = initial


class _AnthropicParser:
    """Anthropic's SSE events to stream events."""

    __slots__ = ("_provider", "_sse", "text", "error", "_blocks", "_thinking", "_calls", "_input", "_output",
                 "_stop", "_done")

    def __init__(self, provider: "AnthropicProvider") -> None:
        self._provider = provider
        self._sse = SSEDecoder()
        self.text: list[str] = []
        self.error: ProviderError | None = None
        self._blocks: dict[int, _PendingCall] = {}
        self._thinking: dict[int, dict[str, Any]] = {}  # open thinking blocks by index
        self._calls = 0
        self._input = 0
        self._output = 0
        self._stop: str | None = None
        self._done = False

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        try:
            self._records(self._sse.feed(chunk), out)
        except ProviderError as exc:
            if not out:
                raise
            self.error = exc  # the events before it go out first; the stream raises it next
        return out

    def _records(self, records: list[SSEEvent], out: list[StreamEvent]) -> None:
        text = self.text
        for name, data in records:
            # Fast path for the commonest events, a text or thinking delta in the API's compact
            # form: the same event the full parse gives, without building three dicts. Anything
            # else (other spacing, key order, an escape error) takes the full parse. Blocks come
            # one after another, so while a thinking block is open its deltas are the ones to try.
            thinking = self._thinking
            match = (_THINKING_DELTA if thinking else _TEXT_DELTA)(data)
            if match is not None and not self._done and name != "ping":
                try:
                    piece, end = _scanstring(data, match.end())
                except ValueError:
                    pass
                else:
                    if len(data) - end == 2 and data.endswith("}}"):
                        if not thinking:
                            if piece:
                                text.append(piece)
                                out.append(base.TextDeltaEvent(piece))
                            continue
                        block = thinking.get(int(match.group(1)))
                        if block is not None and block["parts"] is not None:
                            if piece:
                                block["parts"].append(piece)
                                out.append(base.ThinkingDeltaEvent(piece))
                            continue
            self._handle(name, data, out)

    def finish(self) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        try:
            self._records(self._sse.close(), out)
            if not self._done:
                raise self._provider._premature_end()
        except ProviderError as exc:
            if not out:
                raise
            self.error = exc
        return out

    def _handle(self, name: str, data: str, out: list[StreamEvent]) -> None:
        if self._done or name == "ping":
            return
        try:
            event = loads(data)
            kind = event.get("type", name)
            if kind == "content_block_delta":
                self._delta(event["index"], event["delta"], out)
            elif kind == "content_block_start":
                self._block_start(event["index"], event["content_block"], out)
            elif kind == "content_block_stop":
                self._block_stop(event["index"], out)
            elif kind == "message_start":
                self._usage(event["message"].get("usage") or {})
            elif kind == "message_delta":
                self._stop = (event.get("delta") or {}).get("stop_reason") or self._stop
                self._usage(event.get("usage") or {})
            elif kind == "message_stop":
                self._done = True
                out.append(base.UsageEvent(Usage(input_tokens=self._input, output_tokens=self._output)))
                raw = self._stop
                reason = _STOP_REASONS.get(raw or "", "tool_use" if self._calls else "end_turn")
                out.append(base.StopEvent(reason, raw))
            elif kind == "error":
                raise error_from_payload(self._provider.label, event.get("error") or event, self._provider._secret)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise self._provider._malformed(f"{type(exc).__name__} in a {name!r} event") from exc

    def _delta(self, index: int, delta: dict[str, Any], out: list[StreamEvent]) -> None:
        kind = delta.get("type")
        if kind == "text_delta":
            text = delta["text"]
            if text:
                self.text.append(text)
                out.append(base.TextDeltaEvent(text))
        elif kind == "input_json_delta":
            call = self._blocks.get(index)
            fragment = delta.get("partial_json") or ""
            if call is not None and fragment:
                call.parts.append(fragment)
                out.append(base.ToolCallDeltaEvent(call.index, fragment))
        elif kind == "thinking_delta":
            text = delta.get("thinking") or ""
            block = self._thinking.get(index)
            if block is not None:
                block["parts"].append(text)
            if text:
                out.append(base.ThinkingDeltaEvent(text))
        elif kind == "signature_delta":
            block = self._thinking.get(index)
            if block is not None:
                block["block"]["signature"] += delta.get("signature") or ""
        # citations_delta: not shown, tolerated

    def _block_start(self, index: int, block: dict[str, Any], out: list[StreamEvent]) -> None:
        kind = block.get("type")
        if kind == "tool_use":
            call = _PendingCall(self._calls, block["id"], block["name"], block.get("input") or {})
            self._calls += 1
            self._blocks[index] = call
            out.append(base.ToolCallStartEvent(call.index, call.id, call.name))
        elif kind == "text" and block.get("text"):
            self.text.append(block["text"])
            out.append(base.TextDeltaEvent(block["text"]))
        elif kind == "thinking":
            text = block.get("thinking") or ""
            self._thinking[index] = {"block": {"type": "thinking", "thinking": "",
                                               "signature": block.get("signature") or ""}, "parts": [text]}
            if text:
                out.append(base.ThinkingDeltaEvent(text))
        elif kind == "redacted_thinking":
            # Encrypted reasoning: nothing to show, but it must go back exactly as it came.
            self._thinking[index] = {"block": dict(block), "parts": None}

    def _block_stop(self, index: int, out: list[StreamEvent]) -> None:
        thinking = self._thinking.pop(index, None)
        if thinking is not None:
            block = thinking["block"]
            if thinking["parts"] is not None:
                block["thinking"] = "".join(thinking["parts"])
            out.append(base.ThinkingBlockEvent(block))
            return
        call = self._blocks.pop(index, None)
        if call is None:
            return
        arguments = json.loads("".join(call.parts)) if call.parts else call.initial
        if not isinstance(arguments, dict):
            raise TypeError("tool input is not an object")
        out.append(base.ToolCallEndEvent(call.index, ToolCall(id=call.id, name=call.name, arguments=arguments)))

    def _usage(self, usage: dict[str, Any]) -> None:
        if usage.get("input_tokens") is not None:
            # Cached prompt tokens are part of the prompt's size too.
            self._input = (usage["input_tokens"] + (usage.get("cache_creation_input_tokens") or 0)
                           + (usage.get("cache_read_input_tokens") or 0))
        if usage.get("output_tokens") is not None:
            self._output = usage["output_tokens"]


class AnthropicProvider(HTTPProvider):
    """Claude through the Anthropic Messages API. Base URL: argument, ``ANTHROPIC_BASE_URL`` or the public API."""

    name = "anthropic"
    chat_path = "/v1/messages"
    label = "Anthropic"
    max_image_bytes = MAX_IMAGE_BYTES

    def __init__(self, *, base_url: str | None = None, thinking: Any = None, **kwargs: Any) -> None:
        url = base_url or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL
        self.thinking = normalize_thinking(thinking)
        super().__init__(base_url=url, **kwargs)

    def _auth_headers(self, key: str | None) -> dict[str, str]:
        return {"x-api-key": key or "", "anthropic-version": ANTHROPIC_VERSION}

    def build_request(self, messages: Sequence[Message], system: str | None = None,
                      tools: Sequence[ToolDefinition] | None = None, **options: Any) -> dict[str, Any]:
        """The JSON body of a streaming Messages request."""
        opts = self._merged(options)
        system_text, wire = to_anthropic_messages(messages, system)
        body: dict[str, Any] = {
            "model": opts.get("model") or self.model,
            "max_tokens": int(opts.get("max_tokens") or DEFAULT_MAX_TOKENS),
            "messages": wire,
            "stream": True,
        }
        if system_text:
            body["system"] = system_text
        if tools:
            body["tools"] = [{"name": t.name, "description": t.description, "input_schema": t.parameters}
                             for t in tools]
        thinking = self.thinking if options.get("thinking") is None else normalize_thinking(options["thinking"])
        if thinking is not None and thinking.enabled:
            budget = thinking.budget_tokens()
            body["thinking"] = {"type": "enabled", "budget_tokens": budget}
            if body["max_tokens"] <= budget:  # the budget is part of max_tokens and must be below it
                body["max_tokens"] = budget + DEFAULT_MAX_TOKENS
        else:
            # Thinking does not allow a changed temperature or top_p: they apply only without it.
            if opts.get("temperature") is not None:
                body["temperature"] = opts["temperature"]
            if opts.get("top_p") is not None:
                body["top_p"] = opts["top_p"]
        stop = opts.get("stop")
        if stop:
            body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
        body.update(opts.get("extra_body") or {})
        return body

    def _new_parser(self) -> _AnthropicParser:
        return _AnthropicParser(self)

    async def list_models(self) -> list[str]:
        """Model ids from ``GET /v1/models``, following pages."""
        names: list[str] = []
        params: dict[str, Any] = {"limit": 1000}
        while True:
            page = await self._request_json("GET", "/v1/models", params=params)
            names += [m["id"] for m in page.get("data", []) if m.get("id")]
            if not page.get("has_more") or not page.get("last_id"):
                return names
            params = {"limit": 1000, "after_id": page["last_id"]}
