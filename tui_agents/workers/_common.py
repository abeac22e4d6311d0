"""Helpers the worker handlers share: payload fields and conversation text for prompts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import InvalidArgumentError

__all__ = ["CALL_TIMEOUT", "model_options", "require", "transcript"]

CALL_TIMEOUT = 30.0
"""Seconds a job's model call may take in all: titles and memory are tiny requests, and a stalled
server must not keep a job (and the status bar's "1 background job") running for minutes."""


def require(payload: Mapping[str, Any], field: str, job: str) -> str:
    """The non-empty string ``payload[field]``, or an ``InvalidArgumentError`` naming the job."""
    value = payload.get(field)
    if not isinstance(value, str) or not value:
        raise InvalidArgumentError(f"The {job} job needs a {field!r} in its payload.")
    return value


def model_options(provider: Any, thread: Mapping[str, Any]) -> dict[str, Any]:
    """``{"model": ...}`` when the thread picked a model of this provider, so a background
    job asks the model the user chats with rather than the provider's default."""
    model = thread.get("model")
    if model and thread.get("provider") in (None, getattr(provider, "name", None)):
        return {"model": model}
    return {}


def transcript(messages: Iterable[Mapping[str, Any]], per_message: int, budget: int) -> str:
    """User and assistant turns as ``role: text`` lines, each cut to ``per_message`` characters,
    keeping the newest ones that fit in ``budget`` characters."""
    lines: list[str] = []
    used = 0
    for message in reversed(list(messages)):
        if message["role"] not in ("user", "assistant") or not message["content"].strip():
            continue
        text = " ".join(message["content"].split())
        if len(text) > per_message:
            text = text[: per_message - 1] + "…"
        line = f"{message['role']}: {text}"
        if used + len(line) > budget and lines:
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(reversed(lines))
