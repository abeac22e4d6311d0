"""The dict-like records the stores return, typed, and the helpers that build them from rows."""

# No ``from __future__ import annotations``: a TypedDict compiles each string annotation into a ForwardRef,
# ~3 ms for these ~90 fields at every start-up (``aiagents-tui ask``'s among them).

import json
import sqlite3
import time
from typing import Any, Literal, TypedDict

from tui_agents.errors import InvalidArgumentError

__all__ = [
    "AgentRecord", "ThreadRecord", "MessageRecord", "LightMessage", "SearchHit", "MemoryRecord",
    "DocumentRecord", "DocumentHit", "GrantRecord", "TreeNode",
    "fetch_all", "fetch_dicts", "fetch_one", "dumps", "loads", "now", "storable", "json_depth", "MAX_JSON_DEPTH",
]

MessageStatus = Literal["complete", "streaming", "interrupted", "error"]


class AgentRecord(TypedDict):
    """An agent: its prompt, definition, provider, model, tools and memory settings."""

    id: str
    name: str
    system_prompt: str
    definition: dict[str, Any] | None
    provider: str | None
    model: str | None
    tools: list[str]
    memory_strategy: str | None
    memory_params: dict[str, Any]
    created_at: float
    updated_at: float


class ThreadRecord(TypedDict):
    """A thread: title, owner, model, archive and trash times, and where it was forked from."""

    id: str
    agent_id: str | None
    user_id: str | None
    title: str | None
    title_source: Literal["user", "auto"] | None
    summary: str | None
    provider: str | None
    model: str | None
    created_at: float
    updated_at: float
    archived_at: float | None
    trashed_at: float | None
    forked_from: str | None
    forked_from_message: str | None
    fork_kind: Literal["fork", "branch"] | None


class TreeNode(ThreadRecord):
    """A thread as the sidebar draws it: its parent in the drawing and its depth."""

    parent_id: str | None  # forked_from when that thread is shown too, else None (drawn as a root)
    depth: int


class MessageRecord(TypedDict):
    """A message of a thread, with tool calls, status, usage, token count, guardrail verdict and meta."""

    id: str
    thread_id: str
    position: int
    role: Literal["system", "user", "assistant", "tool"]
    content: str
    tool_calls: list[dict[str, Any]]
    tool_call_id: str | None
    status: MessageStatus
    model: str | None
    usage: dict[str, int] | None
    token_count: int | None
    guardrail: dict[str, Any] | None
    meta: dict[str, Any] | None
    created_at: float
    updated_at: float
    thinking: str | None
    thinking_blocks: list[dict[str, Any]]
    images: list[dict[str, Any]]


class LightMessage(TypedDict):
    """The few fields of a message that memory strategies and long lists need."""

    id: str
    position: int
    role: str
    token_count: int | None
    tool_call_id: str | None
    has_tool_calls: bool
    chars: int


class SearchHit(TypedDict):
    """A search result: a message (or a thread title when ``message_id`` is None) with a snippet."""

    thread_id: str
    thread_title: str | None
    message_id: str | None
    role: str | None
    snippet: str
    created_at: float
    score: float
    other_threads: int  # addition: how many more visible threads share this message (forks)


class MemoryRecord(TypedDict):
    """A fact about a user, kept across threads."""

    user_id: str
    key: str
    value: str
    category: str
    source: str
    updated_at: float


class DocumentRecord(TypedDict):
    """A reference document for ``search_documents``."""

    id: str
    title: str
    text: str
    source: str | None
    created_at: float


class DocumentHit(TypedDict):
    """A document search result with a snippet."""

    document_id: str
    title: str
    snippet: str
    source: str | None
    score: float


class GrantRecord(TypedDict):
    """A role a user holds on a resource."""

    user_id: str
    role: str
    resource_type: str
    resource_id: str
    created_at: float


def now() -> float:
    """Current time as float Unix seconds."""
    return time.time()


def fetch_all(db: sqlite3.Connection, sql: str, params: Any = ()) -> list[sqlite3.Row]:
    """Rows as ``sqlite3.Row`` whatever the connection's row factory is."""
    cur = db.cursor()
    cur.row_factory = sqlite3.Row
    return cur.execute(sql, params).fetchall()


def fetch_dicts(db: sqlite3.Connection, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    """Rows as plain dicts keyed by column name (the cheapest way to build many records)."""
    cur = db.cursor()
    cur.row_factory = None
    cur.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur]


def fetch_one(db: sqlite3.Connection, sql: str, params: Any = ()) -> sqlite3.Row | None:
    """The first row or None."""
    cur = db.cursor()
    cur.row_factory = sqlite3.Row
    return cur.execute(sql, params).fetchone()


MAX_JSON_DEPTH = 100  # of a stored JSON value (meta, tool arguments, definition...)


def json_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """How deeply ``value`` nests dicts and lists, counted without recursion and only up to ``limit + 1``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if depth > limit:
            break
        stack.extend((child, depth + 1) for child in children)
    return deepest


def dumps(value: Any) -> str | None:
    """JSON text for a column, None stays NULL; a value nested deeper than ``MAX_JSON_DEPTH`` is refused."""
    if value is None:
        return None
    if json_depth(value) > MAX_JSON_DEPTH:
        raise InvalidArgumentError(f"A value to save (such as a message's meta or a tool call's arguments) "
                                   f"is nested more than {MAX_JSON_DEPTH} levels deep; flatten it.")
    return storable(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def loads(text: str | None) -> Any:
    """A JSON column back to Python, NULL to None."""
    return None if text is None else json.loads(text)


def storable(text: str) -> str:
    """``text`` as SQLite can store it: split surrogate pairs joined, lone halves replaced by U+FFFD.

    JSON escapes in a model's stream can carry half a surrogate pair (``\\ud83d``); such a
    string cannot be encoded as UTF-8, and a reply must not be lost for one character.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text
