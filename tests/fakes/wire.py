"""The request checks the real APIs make, for ``FakeLLMServer``: a body they would refuse gets their 400.

Only shapes the real services are known to reject are checked, each with a
message in the spirit of theirs: tool calls and results that do not pair up,
content parts a role cannot hold (an image in an OpenAI tool message), and
images that are not base64 of a type the API takes.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

__all__ = ["wire_problem"]

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


def wire_problem(protocol: str, body: Any) -> str | None:
    """Why the real API would answer this chat request with 400, or None when it would take it."""
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return None  # other checks (missing fields) are the fake's renderer's business
    check = {"anthropic": _anthropic, "openai": _openai, "ollama": _ollama}.get(protocol)
    return check(body["messages"]) if check else None


def _base64_problem(data: Any, where: str) -> str | None:
    if not isinstance(data, str):
        return f"{where}: image data must be a base64 string"
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return f"{where}: image data is not valid base64"
    return None


# ---- Anthropic Messages


def _anthropic_image(block: dict[str, Any], where: str) -> str | None:
    source = block.get("source") or {}
    if source.get("type") == "url":
        return None
    if source.get("type") != "base64":
        return f"{where}.source.type: Input should be 'base64' or 'url'"
    if source.get("media_type") not in IMAGE_TYPES:
        return f"{where}.source.media_type: Input should be one of {', '.join(IMAGE_TYPES)}"
    return _base64_problem(source.get("data"), f"{where}.source.data")


def _anthropic_tool_result(block: dict[str, Any], where: str) -> str | None:
    content = block.get("content", "")
    if isinstance(content, str):
        return None
    if not isinstance(content, list):
        return f"{where}.content: Input should be a valid string or list"
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "image":
            if problem := _anthropic_image(part, f"{where}.content.{j}"):
                return problem
        elif kind == "text":
            if not part.get("text"):
                return f"{where}.content.{j}: text content blocks must be non-empty"
        elif kind not in ("search_result", "document"):
            return f"{where}.content.{j}.type: Input tag {kind!r} is not one of text, image, search_result, document"
    return None


def _anthropic(messages: list[Any]) -> str | None:
    open_calls: list[str] = []
    for i, message in enumerate(messages):
        content = message.get("content")
        blocks = content if isinstance(content, list) else []
        if open_calls:
            answered = {b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"}
            missing = [c for c in open_calls if c not in answered]
            if message.get("role") != "user" or missing:
                return (f"messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                        f"{', '.join(missing or open_calls)}. Each `tool_use` block must have a corresponding "
                        "`tool_result` block in the next message.")
        for j, block in enumerate(blocks):
            where = f"messages.{i}.content.{j}"
            kind = block.get("type")
            if kind == "tool_result":
                if block.get("tool_use_id") not in open_calls:
                    return f"{where}: unexpected `tool_use_id` found in `tool_result` blocks: {block.get('tool_use_id')}"
                if problem := _anthropic_tool_result(block, where):
                    return problem
            elif kind == "image" and (problem := _anthropic_image(block, where)):
                return problem
        open_calls = [b.get("id") for b in blocks if b.get("type") == "tool_use"] \
            if message.get("role") == "assistant" else []
    return None


# ---- OpenAI Chat Completions


def _openai_part(part: Any, role: str, where: str) -> str | None:
    kind = part.get("type") if isinstance(part, dict) else None
    allowed = {"user": ("text", "image_url", "input_audio", "file"), "tool": ("text",),
               "system": ("text",), "developer": ("text",), "assistant": ("text", "refusal")}[role]
    if kind not in allowed:
        return f"Invalid value: {kind!r}. Supported values for {role} messages are: {', '.join(allowed)}. ({where})"
    if kind == "image_url":
        url = (part.get("image_url") or {}).get("url", "")
        if url.startswith("data:"):
            head, _, data = url.partition(",")
            if not head.endswith(";base64") or head[5:].split(";")[0] not in IMAGE_TYPES:
                return f"{where}: Invalid image data URL; expected data:image/(png|jpeg|gif|webp);base64,..."
            return _base64_problem(data, where)
        if not url.startswith(("http://", "https://")):
            return f"{where}: Invalid image URL"
    return None


def _openai(messages: list[Any]) -> str | None:
    open_calls: list[str] = []
    for i, message in enumerate(messages):
        role = message.get("role")
        if role not in ("system", "developer", "user", "assistant", "tool"):
            return f"messages[{i}].role: Invalid value: {role!r}"
        if role == "tool":
            if message.get("tool_call_id") not in open_calls:
                return (f"messages[{i}]: Invalid parameter: messages with role 'tool' must be a response to a "
                        "preceeding message with 'tool_calls'.")
            open_calls.remove(message.get("tool_call_id"))
        elif open_calls:
            return ("An assistant message with 'tool_calls' must be followed by tool messages responding to each "
                    f"'tool_call_id'. The following tool_call_ids did not have response messages: "
                    f"{', '.join(open_calls)}")
        content = message.get("content")
        if isinstance(content, list):
            for j, part in enumerate(content):
                if problem := _openai_part(part, role, f"messages[{i}].content[{j}]"):
                    return problem
        if role == "assistant":
            open_calls = [call.get("id") for call in message.get("tool_calls") or ()]
    if open_calls:
        return ("An assistant message with 'tool_calls' must be followed by tool messages responding to each "
                f"'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(open_calls)}")
    return None


# ---- Ollama /api/chat


def _ollama(messages: list[Any]) -> str | None:
    for i, message in enumerate(messages):
        if message.get("role") not in ("system", "user", "assistant", "tool"):
            return f"invalid role in messages[{i}]: {message.get('role')!r}"
        if not isinstance(message.get("content", ""), str):
            return f"json: cannot unmarshal array into Go struct field Message.messages.content of type string ({i})"
        images = message.get("images")
        if images is None:
            continue
        if not isinstance(images, list):
            return f"json: cannot unmarshal into Go struct field Message.messages.images ({i})"
        for j, image in enumerate(images):
            if problem := _base64_problem(image, f"illegal base64 data in messages[{i}].images[{j}]"):
                return problem
    return None
