"""ChatGPT ``conversations.json``: each conversation's path to ``current_node`` as messages."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tui_agents.errors import InvalidArgumentError
from tui_agents.store.records import now
from tui_agents.store.transfer.format import MAX_TIMESTAMP


def _timestamp(value: Any, what: str) -> float | None:
    """A ChatGPT time (Unix seconds, or an ISO string in some exports) as float seconds; out of range raises."""
    if isinstance(value, bool) or value is None:
        return None
    seconds: float | None = None
    if isinstance(value, (int, float)):
        seconds = float(value) if not isinstance(value, int) or abs(value) < 2**63 else math.inf
    elif isinstance(value, str):
        try:
            seconds = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except (ValueError, OverflowError, OSError):
            return None
    if seconds is not None and not 0 <= seconds <= MAX_TIMESTAMP:
        raise InvalidArgumentError(f"{what} is {value!r}, not a time between 1970 and 9999.")
    return seconds


def _chatgpt_text(content: Any) -> str:
    """The text of a ChatGPT message ``content``: string parts joined; attachments noted."""
    if not isinstance(content, Mapping):
        return ""
    parts = content.get("parts")
    if isinstance(parts, list):
        texts = [p for p in parts if isinstance(p, str)]
        others = len(parts) - len(texts)
        text = "\n".join(texts).strip()
        if others:
            note = f"[{others} attachment{'s' if others > 1 else ''} not imported]"
            text = f"{text}\n\n{note}" if text else note
        return text
    for key in ("text", "result"):
        if isinstance(content.get(key), str):
            return content[key].strip()
    return ""


def _chatgpt_path(conv: Mapping[str, Any], index: int) -> list[Mapping[str, Any]]:
    """The nodes from the root to ``current_node``, checking the tree as we go."""
    mapping = conv.get("mapping")
    if not isinstance(mapping, Mapping) or not mapping:
        raise InvalidArgumentError(f"Conversation {index + 1} has no 'mapping' of messages.")
    current = conv.get("current_node")
    if current is None:  # some exports omit it: follow the last leaf in file order
        leaves = [k for k, n in mapping.items() if isinstance(n, Mapping) and not n.get("children")]
        current = leaves[-1] if leaves else None
    if not isinstance(current, str) or current not in mapping:
        raise InvalidArgumentError(f"Conversation {index + 1}: current_node {current!r} is not in its mapping.")
    path: list[Mapping[str, Any]] = []
    seen: set[str] = set()
    node_id: Any = current
    while node_id is not None:
        if node_id in seen:
            raise InvalidArgumentError(f"Conversation {index + 1}: its parent links form a loop.")
        node = mapping.get(node_id)
        if not isinstance(node, Mapping):
            raise InvalidArgumentError(f"Conversation {index + 1}: node {node_id!r} is missing or malformed.")
        seen.add(node_id)
        path.append(node)
        node_id = node.get("parent")
    path.reverse()
    return path


def _chatgpt_messages(conv: Mapping[str, Any], index: int, fallback_ts: float) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for node in _chatgpt_path(conv, index):
        msg = node.get("message")
        if not isinstance(msg, Mapping):
            continue
        author = msg.get("author") if isinstance(msg.get("author"), Mapping) else {}
        role = author.get("role")
        metadata = msg.get("metadata") if isinstance(msg.get("metadata"), Mapping) else {}
        if role not in ("user", "assistant") or metadata.get("is_visually_hidden_from_conversation"):
            continue
        text = _chatgpt_text(msg.get("content"))
        if not text:
            continue
        ts = _timestamp(msg.get("create_time"), f"Conversation {index + 1}: a message's create_time") \
            or (out[-1]["created_at"] if out else fallback_ts)
        model = metadata.get("model_slug") if isinstance(metadata.get("model_slug"), str) else None
        if out and out[-1]["role"] == role:  # tool steps between two replies were dropped
            out[-1]["content"] += "\n\n" + text
            out[-1]["updated_at"] = ts
            continue
        out.append({"role": role, "content": text, "model": model if role == "assistant" else None,
                    "created_at": ts, "updated_at": ts})
    return out


def _parse_chatgpt(data: list[Any]) -> list[dict[str, Any]]:
    """ChatGPT conversations as import bundles (thread dict + message dicts)."""
    bundles = []
    for index, conv in enumerate(data):
        if not isinstance(conv, Mapping):
            raise InvalidArgumentError(f"Conversation {index + 1} is not a JSON object.")
        created = _timestamp(conv.get("create_time"), f"Conversation {index + 1}: create_time") or now()
        messages = _chatgpt_messages(conv, index, created)
        for position, message in enumerate(messages, start=1):
            message["position"] = position
        title = conv.get("title") if isinstance(conv.get("title"), str) and conv.get("title").strip() else None
        updated = _timestamp(conv.get("update_time"), f"Conversation {index + 1}: update_time") \
            or (messages[-1]["updated_at"] if messages else created)
        bundles.append({
            "thread": {"id": None, "title": title or "Imported ChatGPT conversation",
                       "title_source": "user", "created_at": created, "updated_at": max(updated, created)},
            "agent": None,
            "messages": messages,
        })
    return bundles
