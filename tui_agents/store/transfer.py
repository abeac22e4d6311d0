"""Export a thread to Markdown or JSON, and import our JSON or a ChatGPT ``conversations.json``.

Our JSON (``"format": "aiagents-tui/thread"``, ``"version": 1``) holds the
thread, its agent, lineage and every message with tool calls, statuses,
guardrail verdicts, usage, model, token counts, meta and timestamps.

Import rules (also in ``aiagents-tui import --help``):

- The whole file is parsed and validated first; a malformed file raises
  ``InvalidArgumentError`` naming the cause and writes nothing. Every field is
  checked for type and range: timestamps are finite Unix seconds from 1970 to
  the year 9999, positions and counts fit 32 bits, numbers anywhere are finite,
  and no value is nested deeper than ``MAX_IMPORT_DEPTH``.
- Everything is written in one transaction: a failure part way leaves the
  database as it was.
- Ids are kept when none collide (import into a fresh database gives back the
  same thread); if the thread id or any message id already exists, the thread
  and all its messages get new ids. Timestamps, positions, statuses and
  counts are always kept, so export -> import -> export is equal apart from
  ids (and ``exported_at``).
- ``forked_from`` is kept only when that thread exists in the target database
  (the schema requires it); ``lineage`` is informational and not restored.
- The agent is matched by id, then by name, else created from the export.
- A ChatGPT conversation becomes one thread: the path from the root to
  ``current_node``; hidden, system and tool nodes are skipped and consecutive
  messages of one role are joined (the tool steps between them are dropped).
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tui_agents.errors import InvalidArgumentError, NotFoundError, StoreError
from tui_agents.store.db import run, write
from tui_agents.store.ids import new_id
from tui_agents.store.messages import insert_content
from tui_agents.store.records import MAX_JSON_DEPTH, dumps, now

__all__ = [
    "EXPORT_FORMAT",
    "EXPORT_VERSION",
    "ExportedThread",
    "ImportReport",
    "export_thread",
    "export_thread_text",
    "to_json",
    "to_markdown",
    "parse_import",
    "import_data",
    "import_file",
    "check_tree",
    "loads_json",
]

EXPORT_FORMAT = "aiagents-tui/thread"
EXPORT_VERSION = 1
MAX_IMPORT_BYTES = 512 * 1024 * 1024
MAX_TIMESTAMP = 253402300799.0  # 9999-12-31 23:59:59 UTC, the last second a date can show
MAX_COUNT = 2**31 - 1  # positions and token counts
# The export's own structure (document > messages > message > meta) on top of the stored values' limit.
MAX_IMPORT_DEPTH = MAX_JSON_DEPTH + 4

Timestamp = Annotated[float, Field(ge=0, le=MAX_TIMESTAMP, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]


# --------------------------------------------------------------------------- models


class _Strict(BaseModel):
    # strict: a number given as text, or 1.0 for a position, is a mistake to report, not to guess at.
    model_config = ConfigDict(extra="forbid", strict=True)


class ExportedToolCall(_Strict):
    """One tool call of an assistant message."""

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ExportedMessage(_Strict):
    """A message as stored."""

    id: str
    position: Count
    role: Literal["system", "user", "assistant", "tool"]
    content: str
    tool_calls: list[ExportedToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    status: Literal["complete", "streaming", "interrupted", "error"] = "complete"
    model: str | None = None
    usage: dict[str, Count] | None = None
    token_count: Count | None = None
    guardrail: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    created_at: Timestamp
    updated_at: Timestamp


class ExportedAgent(_Strict):
    """The thread's agent record."""

    id: str
    name: str
    system_prompt: str = ""
    definition: dict[str, Any] | None = None
    provider: str | None = None
    model: str | None = None
    tools: list[str] = Field(default_factory=list)
    memory_strategy: str | None = None
    memory_params: dict[str, Any] = Field(default_factory=dict)
    created_at: Timestamp
    updated_at: Timestamp


class ExportedThreadInfo(_Strict):
    """The thread record (without its agent id, which travels as ``agent``)."""

    id: str
    user_id: str | None = None
    title: str | None = None
    title_source: Literal["user", "auto"] | None = None
    summary: str | None = None
    provider: str | None = None
    model: str | None = None
    created_at: Timestamp
    updated_at: Timestamp
    archived_at: Timestamp | None = None
    trashed_at: Timestamp | None = None
    forked_from: str | None = None
    forked_from_message: str | None = None
    fork_kind: Literal["fork", "branch"] | None = None


class ExportedThread(_Strict):
    """A whole exported thread: our JSON file."""

    format: Literal["aiagents-tui/thread"]
    version: Literal[1]
    exported_at: Timestamp
    thread: ExportedThreadInfo
    agent: ExportedAgent | None = None
    lineage: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    messages: list[ExportedMessage]


@dataclass
class ImportReport:
    """What an import wrote: one thread id per imported conversation, and notes."""

    thread_ids: list[str] = field(default_factory=list)
    kept_ids: bool = True
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- export


def _thread_info(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: record.get(k) for k in ExportedThreadInfo.model_fields}


def _lineage_entry(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: record.get(k) for k in ("id", "title", "fork_kind", "forked_from", "forked_from_message")}


async def export_thread(conn: Any, thread_id: str) -> dict[str, Any]:
    """Our JSON document of a thread (a dict ready for ``to_json``); NotFoundError for an unknown id."""
    from tui_agents.store import AgentStore, MessageStore, ThreadStore

    threads = ThreadStore(conn)
    thread = await threads.get(thread_id)
    agent = None
    if thread.get("agent_id"):
        try:
            agent = dict(await AgentStore(conn).get(thread["agent_id"]))
        except NotFoundError:
            agent = None
    lineage = await threads.lineage(thread_id)
    messages = await MessageStore(conn).list(thread_id)
    doc = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": now(),
        "thread": _thread_info(thread),
        "agent": agent,
        "lineage": {
            "ancestors": [_lineage_entry(r) for r in lineage.get("ancestors", [])],
            "children": [_lineage_entry(r) for r in lineage.get("children", [])],
        },
        "messages": [{k: m.get(k) for k in ExportedMessage.model_fields} for m in messages],
    }
    # Validate our own output so an export always imports.
    try:
        return ExportedThread.model_validate(doc).model_dump(mode="json")
    except (ValidationError, ValueError) as exc:
        detail = _error_text(exc) if isinstance(exc, ValidationError) else str(exc)
        raise StoreError(f"Thread {thread_id} holds a value that cannot be exported ({detail}).") from exc


def to_json(doc: Mapping[str, Any]) -> str:
    """Pretty JSON of an exported thread (strict JSON: no NaN or Infinity)."""
    try:
        return json.dumps(doc, ensure_ascii=False, indent=2, allow_nan=False) + "\n"
    except ValueError as exc:
        raise StoreError(f"The thread holds a number JSON cannot represent ({exc}).") from exc


def _when(ts: Any) -> str:
    if not isinstance(ts, (int, float)) or isinstance(ts, bool):
        return "-"
    try:
        return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return "-"


def _fence(text: str, lang: str = "") -> str:
    """A code fence longer than any backtick run inside ``text``."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text}\n{ticks}"


def _md_header(doc: Mapping[str, Any]) -> list[str]:
    thread = doc["thread"]
    lines = [f"# {thread.get('title') or 'Untitled thread'}", ""]
    lines.append(f"- Thread: `{thread['id']}`")
    agent = doc.get("agent")
    if agent:
        lines.append(f"- Agent: {agent['name']}")
    if thread.get("provider") or thread.get("model"):
        lines.append(f"- Model: {thread.get('provider') or '?'} / {thread.get('model') or 'default'}")
    lines.append(f"- Created: {_when(thread['created_at'])}; last activity {_when(thread['updated_at'])}")
    if thread.get("forked_from"):
        kind = thread.get("fork_kind") or "fork"
        at = f" at message `{thread['forked_from_message']}`" if thread.get("forked_from_message") else ""
        lines.append(f"- {kind.capitalize()} of `{thread['forked_from']}`{at}")
    if thread.get("summary"):
        lines += ["", f"> {thread['summary']}"]
    return lines


def _md_message(message: Mapping[str, Any]) -> list[str]:
    role = message["role"]
    bits = [role.capitalize(), _when(message["created_at"])]
    if message.get("model"):
        bits.append(message["model"])
    if message.get("status") and message["status"] != "complete":
        bits.append(f"status: {message['status']}")
    usage = message.get("usage")
    if usage:
        bits.append(f"{usage.get('input_tokens', 0)} in / {usage.get('output_tokens', 0)} out tokens")
    meta = message.get("meta") or {}
    if role == "tool":
        bits[0] = f"Tool result: {meta.get('name') or message.get('tool_call_id') or '?'}"
        if meta.get("status"):
            bits.append(meta["status"])
        duration = meta.get("duration_ms")
        if isinstance(duration, (int, float)) and not isinstance(duration, bool) and math.isfinite(duration):
            bits.append(f"{duration:.0f} ms")
    lines = ["", f"## {' · '.join(bits)}", ""]
    guardrail = message.get("guardrail")
    if guardrail:
        lines += [f"> **Guardrail {guardrail.get('action', 'flagged')}**: {guardrail.get('reason', '')}", ""]
    if role == "tool":
        lines.append(_fence(message["content"]))
    elif message["content"]:
        lines.append(message["content"])
    for call in message.get("tool_calls") or []:
        args = json.dumps(call.get("arguments") or {}, ensure_ascii=False, indent=2)
        if lines[-1]:
            lines.append("")
        lines += [f"**Tool call** `{call['name']}` (`{call['id']}`)", "", _fence(args, "json")]
    return lines


def to_markdown(doc: Mapping[str, Any]) -> str:
    """A readable Markdown transcript of an exported thread."""
    lines = _md_header(doc)
    for message in doc["messages"]:
        lines += _md_message(message)
    return "\n".join(lines).rstrip() + "\n"


async def export_thread_text(conn: Any, thread_id: str, fmt: Literal["md", "json"] = "json") -> str:
    """The thread exported as ``md`` or ``json`` text."""
    doc = await export_thread(conn, thread_id)
    if fmt == "md":
        return to_markdown(doc)
    if fmt == "json":
        return to_json(doc)
    raise InvalidArgumentError(f"Unknown export format {fmt!r}; use md or json.")


# --------------------------------------------------------------------------- parsing


def _error_text(exc: ValidationError) -> str:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(top)"
    return f"{loc}: {first['msg']}"


def _first_error(exc: ValidationError, where: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"{where} is not a valid export: {_error_text(exc)}.")


def _path_text(path: tuple[Any, ...]) -> str:
    shown = ".".join(str(p) for p in path[:8])
    return (shown + ".…" if len(path) > 8 else shown) or "(top)"


def check_tree(data: Any, where: str = "The file", limit: int = MAX_IMPORT_DEPTH) -> None:
    """Refuse JSON nested deeper than ``limit`` or holding a non-finite number, naming the field.

    Iterative, so a hostile depth cannot exhaust the stack here.
    """
    stack: list[tuple[Any, tuple[Any, ...]]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidArgumentError(f"{where} is not a valid export: {_path_text(path)}: "
                                       f"{value} is not a finite number.")
        if isinstance(value, Mapping):
            items: Any = value.items()
        elif isinstance(value, list):
            items = enumerate(value)
        else:
            continue
        if len(path) >= limit:
            raise InvalidArgumentError(f"{where} is nested more than {limit} levels deep "
                                       f"(at {_path_text(path)}); not imported.")
        stack.extend((child, (*path, key)) for key, child in items)


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


def parse_import(data: Any, where: str = "The file") -> tuple[str, list[dict[str, Any]]]:
    """Recognise and validate an import: returns (kind, bundles) or raises InvalidArgumentError."""
    check_tree(data, where)
    if isinstance(data, Mapping) and data.get("format") == EXPORT_FORMAT:
        try:
            doc = ExportedThread.model_validate(data)
        except ValidationError as exc:
            raise _first_error(exc, where) from exc
        positions = [m.position for m in doc.messages]
        if len(set(positions)) != len(positions):
            raise InvalidArgumentError(f"{where} has two messages at the same position.")
        ids = [m.id for m in doc.messages]
        if len(set(ids)) != len(ids):
            raise InvalidArgumentError(f"{where} has two messages with the same id.")
        return "aiagents", [doc.model_dump(mode="json")]
    if isinstance(data, Mapping) and "mapping" in data:
        data = [data]  # a single ChatGPT conversation
    if isinstance(data, list):
        return "chatgpt", _parse_chatgpt(data)
    raise InvalidArgumentError(
        f"{where} is neither an aiagents-tui thread export nor a ChatGPT conversations.json.")


# --------------------------------------------------------------------------- writing


def _exists(db: sqlite3.Connection, table: str, ids: list[str]) -> bool:
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        row = db.execute(f"SELECT 1 FROM {table} WHERE id IN ({','.join('?' * len(chunk))}) LIMIT 1",
                         chunk).fetchone()
        if row is not None:
            return True
    return False


def _resolve_agent(db: sqlite3.Connection, agent: Mapping[str, Any] | None, default_agent_id: str | None) -> str | None:
    """The agent id to attach: same id, else same name, else a new agent from the export."""
    if agent is None:
        return default_agent_id
    if db.execute("SELECT 1 FROM agents WHERE id = ?", (agent["id"],)).fetchone():
        return agent["id"]
    row = db.execute("SELECT id FROM agents WHERE name = ?", (agent["name"],)).fetchone()
    if row is not None:
        return row[0]
    db.execute(
        "INSERT INTO agents(id, name, system_prompt, definition, provider, model, tools, memory_strategy, "
        "memory_params, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (agent["id"], agent["name"], agent.get("system_prompt") or "", dumps(agent.get("definition")),
         agent.get("provider"), agent.get("model"), dumps(agent.get("tools") or []), agent.get("memory_strategy"),
         dumps(agent.get("memory_params") or {}), agent["created_at"], agent["updated_at"]))
    return agent["id"]


def _insert_thread(db: sqlite3.Connection, thread: Mapping[str, Any], thread_id: str, agent_id: str | None,
                   user_id: str | None) -> None:
    forked_from = thread.get("forked_from")
    if forked_from and not db.execute("SELECT 1 FROM threads WHERE id = ?", (forked_from,)).fetchone():
        forked_from = None
    db.execute(
        "INSERT INTO threads(id, agent_id, user_id, title, title_source, summary, provider, model, created_at, "
        "updated_at, archived_at, trashed_at, forked_from, forked_from_message, fork_kind) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (thread_id, agent_id, user_id, thread.get("title"), thread.get("title_source"), thread.get("summary"),
         thread.get("provider"), thread.get("model"), thread["created_at"], thread["updated_at"],
         thread.get("archived_at"), thread.get("trashed_at"), forked_from,
         thread.get("forked_from_message") if forked_from else None,
         thread.get("fork_kind") if forked_from else None))
    if user_id:  # the importing user owns the thread, as if they had created it
        db.execute(
            "INSERT OR IGNORE INTO grants(user_id, resource_type, resource_id, role, created_at) "
            "VALUES (?, 'thread', ?, 'owner', ?)", (user_id, thread_id, now()))


def _insert_message(db: sqlite3.Connection, thread_id: str, message_id: str, m: Mapping[str, Any]) -> None:
    content_id = insert_content(db, m["content"], m.get("token_count"), thread_id, m["position"])
    calls = m.get("tool_calls") or None
    db.execute(
        "INSERT INTO messages(id, thread_id, position, role, content_id, tool_calls, tool_call_id, status, model, "
        "usage, guardrail, meta, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (message_id, thread_id, m["position"], m["role"], content_id, dumps(calls), m.get("tool_call_id"),
         m.get("status") or "complete", m.get("model"), dumps(m.get("usage")), dumps(m.get("guardrail")),
         dumps(m.get("meta")), m["created_at"], m["updated_at"]))


def _write_bundles(db: sqlite3.Connection, bundles: list[dict[str, Any]], user_id: str | None,
                   default_agent_id: str | None, report: ImportReport) -> None:
    for bundle in bundles:
        thread, messages = bundle["thread"], bundle["messages"]
        old_ids = [m["id"] for m in messages if m.get("id")]
        keep = bool(thread.get("id")) and len(old_ids) == len(messages) \
            and not _exists(db, "threads", [thread["id"]]) and not _exists(db, "messages", old_ids)
        if thread.get("id") and not keep:
            report.kept_ids = False
            report.notes.append(f"Thread {thread['id']} already exists here: imported with new ids.")
        thread_id = thread["id"] if keep else new_id("thr")
        agent_id = _resolve_agent(db, bundle.get("agent"), default_agent_id)
        _insert_thread(db, thread, thread_id, agent_id, user_id or thread.get("user_id"))
        for m in messages:
            _insert_message(db, thread_id, m["id"] if keep else new_id("msg"), m)
        report.thread_ids.append(thread_id)


async def import_data(conn: Any, data: Any, *, user_id: str | None = None, default_agent_id: str | None = None,
                      where: str = "The file") -> ImportReport:
    """Import parsed JSON ``data`` (our export or ChatGPT's) in one transaction; returns the new thread ids."""
    kind, bundles = parse_import(data, where)
    report = ImportReport()
    if kind == "chatgpt":
        report.kept_ids = False
        empty = [b for b in bundles if not b["messages"]]
        if empty:
            report.notes.append(f"Skipped {len(empty)} conversation(s) with no visible messages.")
        bundles = [b for b in bundles if b["messages"]]
        if not bundles:
            report.notes.append("The file holds no conversations to import.")
    if default_agent_id is not None:
        await run(conn, _require_agent, default_agent_id)
    await write(conn, _write_bundles, bundles, user_id, default_agent_id, report)
    return report


def _require_agent(db: sqlite3.Connection, agent_id: str) -> None:
    if db.execute("SELECT 1 FROM agents WHERE id = ?", (agent_id,)).fetchone() is None:
        raise NotFoundError(f"Agent {agent_id} does not exist.")


def _read_json(path: Path) -> Any:
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # reading a FIFO or a device could block or never end
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise InvalidArgumentError(f"{path} is {kind}; give the JSON file to import.")
        if info.st_size > MAX_IMPORT_BYTES:
            raise InvalidArgumentError(f"{path} is larger than {MAX_IMPORT_BYTES // 2**20} MiB; not imported.")
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidArgumentError(f"Could not read {path}: {exc.strerror or exc}.") from exc
    try:
        return loads_json(raw.decode("utf-8-sig"), str(path))
    except UnicodeDecodeError as exc:
        raise InvalidArgumentError(f"{path} is not UTF-8 text, so not a JSON export.") from exc


def loads_json(text: str, where: str = "The file") -> Any:
    """Parse strict JSON (no NaN/Infinity); too deep a document is a plain error, not a RecursionError."""

    def refuse(constant: str) -> Any:
        raise InvalidArgumentError(f"{where} is not valid JSON: {constant} is not a JSON number.")

    try:
        return json.loads(text, parse_constant=refuse)
    except json.JSONDecodeError as exc:
        raise InvalidArgumentError(f"{where} is not valid JSON: {exc.msg} at line {exc.lineno}.") from exc
    except RecursionError:
        raise InvalidArgumentError(f"{where} is nested too deeply to read; not imported.") from None


async def import_file(conn: Any, path: str | Path, *, user_id: str | None = None,
                      default_agent_id: str | None = None) -> ImportReport:
    """Import a JSON file (our thread export or a ChatGPT ``conversations.json``) in one transaction."""
    path = Path(path).expanduser()
    data = await asyncio.to_thread(_read_json, path)
    return await import_data(conn, data, user_id=user_id, default_agent_id=default_agent_id, where=str(path))
