"""MessageStore: the messages of a thread, in conversation order (``position``).

A message's text lives in the shared ``contents`` table (see ``migrations``):
forks point at the same content, and ``update(content=...)`` on a shared
message writes a new content row, so the other threads keep their text. The
cached ``token_count`` belongs to the text, so it is shared with the copies.
A message's thinking, Anthropic's signed thinking blocks and its image
references sit on the same content row and are shared the same way; image
bytes are stored once (``store.images``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

import aiosqlite

from tui_agents.errors import InvalidArgumentError, NotFoundError
from tui_agents.store.db import run, write
from tui_agents.store import alternatives
from tui_agents.store.ids import new_id
from tui_agents.store.process import current_writer, writer_alive
from tui_agents.store.records import (
    LightMessage, MessageRecord, dumps, fetch_all, fetch_one, loads, now, storable,
)
from tui_agents.store.images import image_ref, put_images
from tui_agents.store.sharing import Lineage, collect_garbage, holders, released_by
from tui_agents.store.threads import first_texts
from tui_agents.types import Image

__all__ = ["MessageStore", "ROLES", "STATUSES", "APP_CLOSED"]

ROLES = ("system", "user", "assistant", "tool")
STATUSES = ("complete", "streaming", "interrupted", "error")
_CHUNK = 500
# meta["interrupted_reason"] of a reply cut off because its process ended (a crash, kill -9), not a user stop
APP_CLOSED = "app_closed"
# meta["interrupted_reason"] of a reply stopped because the user quit the app while it streamed
APP_QUIT = "app_quit"

SELECT_MESSAGE = (
    "SELECT m.id, m.thread_id, m.position, m.role, c.text AS content, m.tool_calls, m.tool_call_id, m.status, "
    "m.model, m.usage, c.token_count, m.guardrail, m.meta, m.created_at, m.updated_at, "
    "c.thinking, c.thinking_blocks, c.images "
    "FROM messages AS m JOIN contents AS c ON c.id = m.content_id"
)
_SELECT_LIGHT = (
    "SELECT m.id, m.position, m.role, c.token_count, m.tool_call_id, m.tool_calls IS NOT NULL AS has_tool_calls, "
    "c.chars FROM messages AS m JOIN contents AS c ON c.id = m.content_id"
)


def message_record(row: sqlite3.Row) -> MessageRecord:
    """A message record from a ``SELECT_MESSAGE`` row."""
    return MessageRecord(
        id=row["id"], thread_id=row["thread_id"], position=row["position"], role=row["role"],
        content=row["content"], tool_calls=loads(row["tool_calls"]) or [], tool_call_id=row["tool_call_id"],
        status=row["status"], model=row["model"], usage=loads(row["usage"]), token_count=row["token_count"],
        guardrail=loads(row["guardrail"]), meta=loads(row["meta"]), created_at=row["created_at"],
        updated_at=row["updated_at"], thinking=row["thinking"], thinking_blocks=loads(row["thinking_blocks"]) or [],
        images=loads(row["images"]) or [],
    )


def _light(row: sqlite3.Row) -> LightMessage:
    return LightMessage(id=row["id"], position=row["position"], role=row["role"], token_count=row["token_count"],
                        tool_call_id=row["tool_call_id"], has_tool_calls=bool(row["has_tool_calls"]),
                        chars=row["chars"])


def _plain(value: Any) -> Any:
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


def _tool_calls(calls: Iterable[Any] | None) -> str | None:
    """Tool calls (``ToolCall`` models or dicts) as JSON ``[{id, name, arguments}]``; none is NULL."""
    out = []
    for call in calls or []:
        call = _plain(call)
        if not isinstance(call, Mapping) or not call.get("id") or not call.get("name"):
            raise InvalidArgumentError("Each tool call needs an id and a name.")
        out.append({"id": str(call["id"]), "name": str(call["name"]), "arguments": dict(call.get("arguments") or {})})
    return dumps(out) if out else None


def _usage(usage: Any) -> str | None:
    usage = _plain(usage)
    if usage is None:
        return None
    if not isinstance(usage, Mapping):
        raise InvalidArgumentError("Usage must be a Usage or a dict with input_tokens and output_tokens.")
    return dumps({"input_tokens": int(usage.get("input_tokens") or 0),
                  "output_tokens": int(usage.get("output_tokens") or 0)})


def _mapping(value: Any, what: str) -> str | None:
    value = _plain(value)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(f"A message's {what} must be a dict.")
    return dumps(dict(value))


def _check_status(status: str) -> str:
    if status not in STATUSES:
        raise InvalidArgumentError(f"Message status {status!r} is not one of {', '.join(STATUSES)}.")
    return status


def _check_text(content: Any) -> str:
    if content is None:
        return ""
    if not isinstance(content, str):
        raise InvalidArgumentError("Message content must be text.")
    return storable(content)


def insert_content(db: sqlite3.Connection, text: str, token_count: int | None, thread_id: str,
                   position: int, *, thinking: str | None = None, thinking_blocks: str | None = None,
                   images: str | None = None) -> int:
    """A new contents row written at (thread, position), indexed by FTS5 through its trigger; returns its id.

    ``thinking_blocks`` and ``images`` are JSON already; the images' bytes must be stored first.
    """
    cur = db.execute(
        "INSERT INTO contents(origin_thread, origin_position, token_count, chars, bytes, text, thinking, "
        "thinking_blocks, images) VALUES (?,?,?,?,?,?,?,?,?)",
        (thread_id, position, token_count, len(text), len(text.encode("utf-8", "surrogatepass")), text,
         thinking, thinking_blocks, images))
    return int(cur.lastrowid)


def _blocks(blocks: Iterable[Any] | None) -> str | None:
    """Anthropic thinking blocks as JSON, kept exactly (their signatures are checked by the API)."""
    out = [dict(_plain(b)) for b in blocks or ()]
    if any(b.get("type") not in ("thinking", "redacted_thinking") for b in out):
        raise InvalidArgumentError("Thinking blocks must be of type 'thinking' or 'redacted_thinking'.")
    return dumps(out) if out else None


def _images(images: Iterable[Any] | None) -> list[Image]:
    out = list(images or ())
    if any(not isinstance(i, Image) for i in out):
        raise InvalidArgumentError("Images must be tui_agents.types.Image values (see tui_agents.images.load_image).")
    return out


def require_thread(db: sqlite3.Connection, thread_id: str) -> None:
    """NotFoundError unless the thread exists."""
    if db.execute("SELECT 1 FROM threads WHERE id = ?", (thread_id,)).fetchone() is None:
        raise NotFoundError(f"Thread {thread_id} does not exist.")


def _get(db: sqlite3.Connection, message_id: str) -> MessageRecord:
    row = fetch_one(db, SELECT_MESSAGE + " WHERE m.id = ?", (message_id,))
    if row is None:
        raise NotFoundError(f"Message {message_id} does not exist.")
    return message_record(row)


def _window(db: sqlite3.Connection, select: str, thread_id: str, limit: int | None,
            before: int | None) -> list[sqlite3.Row]:
    """Rows of a thread in conversation order; with limit, the last ``limit`` before position ``before``."""
    require_thread(db, thread_id)
    where, params = f" WHERE m.thread_id = ? AND {alternatives.VISIBLE}", [thread_id]
    if before is not None:
        where += " AND m.position < ?"
        params.append(int(before))
    if limit is None:
        return fetch_all(db, select + where + " ORDER BY m.position", params)
    if limit < 0:
        raise InvalidArgumentError("limit must be zero or more.")
    rows = fetch_all(db, select + where + " ORDER BY m.position DESC LIMIT ?", [*params, int(limit)])
    rows.reverse()
    return rows


# One indexed read of just the rows the inspector needs, without their text: tool results
# (meta), callers (tool_calls), verdicts (guardrail) and user messages (turn boundaries).
_CALL_ROWS = (
    "SELECT id, position, role, tool_calls, tool_call_id, meta, guardrail, created_at FROM messages "
    "WHERE thread_id = ? AND (role IN ('tool', 'user') OR tool_calls IS NOT NULL OR guardrail IS NOT NULL "
    "OR id = ?) ORDER BY position"
)


class MessageStore:
    """Add, read and update the messages of threads."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def add(self, thread_id: str, role: str, content: str = "", tool_calls: Iterable[Any] | None = None,
                  tool_call_id: str | None = None, status: str = "complete", model: str | None = None,
                  usage: Any = None, token_count: int | None = None, guardrail: Any = None,
                  meta: Mapping[str, Any] | None = None, thinking: str | None = None,
                  thinking_blocks: Iterable[Any] | None = None, images: Iterable[Image] | None = None,
                  ) -> MessageRecord:
        """Append a message to a thread (bumping the thread's last activity) and return it.

        ``thinking`` is the model's reasoning, ``thinking_blocks`` Anthropic's signed blocks, ``images``
        ``Image`` values whose bytes are stored once (by sha256).
        """
        if role not in ROLES:
            raise InvalidArgumentError(f"Message role {role!r} is not one of {', '.join(ROLES)}.")
        text = _check_text(content)
        thought = None if thinking is None else _check_text(thinking)
        blocks = _blocks(thinking_blocks)
        pictures = _images(images)
        refs = dumps([image_ref(i) for i in pictures]) if pictures else None
        cols = (_tool_calls(tool_calls), tool_call_id, _check_status(status), model, _usage(usage),
                _mapping(guardrail, "guardrail"), _mapping(meta, "meta"))
        message_id, ts = new_id("msg"), now()

        def insert(db: sqlite3.Connection) -> MessageRecord:
            require_thread(db, thread_id)
            position = db.execute("SELECT coalesce(max(position), 0) + 1 FROM messages WHERE thread_id = ?",
                                  (thread_id,)).fetchone()[0]
            put_images(db, pictures)
            content_id = insert_content(db, text, token_count, thread_id, position, thinking=thought,
                                        thinking_blocks=blocks, images=refs)
            db.execute(
                "INSERT INTO messages(id, thread_id, position, role, content_id, tool_calls, tool_call_id, status, "
                "model, usage, guardrail, meta, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (message_id, thread_id, position, role, content_id, *cols, ts, ts))
            db.execute("UPDATE threads SET updated_at = max(updated_at, ?) WHERE id = ?", (ts, thread_id))
            after_insert(db, thread_id, position, role, status)
            return MessageRecord(  # type: ignore[typeddict-item]  # role and status were checked above
                id=message_id, thread_id=thread_id, position=position, role=role, content=text,
                tool_calls=loads(cols[0]) or [], tool_call_id=tool_call_id, status=status,
                model=model, usage=loads(cols[4]), token_count=token_count, guardrail=loads(cols[5]),
                meta=loads(cols[6]), created_at=ts, updated_at=ts, thinking=thought,
                thinking_blocks=loads(blocks) or [], images=loads(refs) or [])

        return await write(self.conn, insert)

    async def get(self, id: str) -> MessageRecord:
        """The message with this id (NotFoundError otherwise)."""
        return await run(self.conn, _get, id)

    async def list(self, thread_id: str, limit: int | None = None, before: int | None = None) -> list[MessageRecord]:
        """A thread's messages in conversation order; with ``limit``, the last ``limit`` before position ``before``."""
        rows = await run(self.conn, _window, SELECT_MESSAGE, thread_id, limit, before)
        return [message_record(r) for r in rows]

    async def list_light(self, thread_id: str, limit: int | None = None,
                         before: int | None = None) -> list[LightMessage]:
        """Like ``list`` but light rows: id, position, role, token_count, tool_call_id, has_tool_calls, chars."""
        rows = await run(self.conn, _window, _SELECT_LIGHT, thread_id, limit, before)
        return [_light(r) for r in rows]

    async def get_many(self, ids: Iterable[str]) -> list[MessageRecord]:
        """The messages with these ids, in the order given; unknown ids are skipped."""
        wanted = list(dict.fromkeys(ids))

        def select(db: sqlite3.Connection) -> list[MessageRecord]:
            found: dict[str, MessageRecord] = {}
            for i in range(0, len(wanted), _CHUNK):
                chunk = wanted[i:i + _CHUNK]
                sql = SELECT_MESSAGE + f" WHERE m.id IN ({','.join('?' * len(chunk))})"
                found.update((r["id"], message_record(r)) for r in fetch_all(db, sql, chunk))
            return [found[i] for i in wanted if i in found]

        return await run(self.conn, select)

    async def update(self, id: str, content: str | None = None, status: str | None = None, usage: Any = None,
                     token_count: int | None = None, guardrail: Any = None, meta: Mapping[str, Any] | None = None,
                     tool_calls: Iterable[Any] | None = None, model: str | None = None,
                     thinking: str | None = None, thinking_blocks: Iterable[Any] | None = None) -> MessageRecord:
        """Change the given fields (None leaves a field as it is) and return the message."""
        sets: dict[str, Any] = {}
        if status is not None:
            sets["status"] = _check_status(status)
            if status == "streaming":
                sets["writer"] = current_writer()
        if usage is not None:
            sets["usage"] = _usage(usage)
        if guardrail is not None:
            sets["guardrail"] = _mapping(guardrail, "guardrail")
        if meta is not None:
            sets["meta"] = _mapping(meta, "meta")
        if tool_calls is not None:
            sets["tool_calls"] = _tool_calls(tool_calls)
        if model is not None:
            sets["model"] = model
        text = None if content is None else _check_text(content)
        extra: dict[str, Any] = {}
        if thinking is not None:
            extra["thinking"] = _check_text(thinking)
        if thinking_blocks is not None:
            extra["thinking_blocks"] = _blocks(thinking_blocks)

        def change(db: sqlite3.Connection) -> MessageRecord:
            row = db.execute("SELECT content_id, thread_id, position FROM messages WHERE id = ?", (id,)).fetchone()
            if row is None:
                raise NotFoundError(f"Message {id} does not exist.")
            content_id, thread_id, position = row
            if extra:
                content_id = _own_content(db, id, content_id, thread_id, position)
                assignments = ", ".join(f"{col} = ?" for col in extra)
                db.execute(f"UPDATE contents SET {assignments} WHERE id = ?", (*extra.values(), content_id))
            if text is not None:
                _set_text(db, id, content_id, thread_id, position, text, token_count)
            elif token_count is not None:
                db.execute("UPDATE contents SET token_count = ? WHERE id = ?", (token_count, content_id))
            assignments = "".join(f", {col} = ?" for col in sets)
            db.execute(f"UPDATE messages SET updated_at = ?{assignments} WHERE id = ?", (now(), *sets.values(), id))
            return _get(db, id)

        return await write(self.conn, change)

    async def set_token_counts(self, counts: Mapping[str, int]) -> None:
        """Cache token counts for many messages in one transaction."""
        pairs = [(int(n), message_id) for message_id, n in counts.items()]

        def change(db: sqlite3.Connection) -> None:
            db.executemany("UPDATE contents SET token_count = ? WHERE id = "
                           "(SELECT content_id FROM messages WHERE id = ?)", pairs)

        if pairs:
            await write(self.conn, change)

    async def count(self, thread_id: str) -> int:
        """How many messages the thread has."""

        def select(db: sqlite3.Connection) -> int:
            require_thread(db, thread_id)
            return db.execute(f"SELECT count(*) FROM messages AS m WHERE thread_id = ? AND {alternatives.VISIBLE}",
                              (thread_id,)).fetchone()[0]

        return await run(self.conn, select)

    async def tool_calls(self, thread_id: str) -> list[MessageRecord]:
        """Every tool-result message of the thread, in conversation order (for the inspector)."""

        def select(db: sqlite3.Connection) -> list[sqlite3.Row]:
            require_thread(db, thread_id)
            return fetch_all(db, SELECT_MESSAGE + " WHERE m.thread_id = ? AND m.role = 'tool' AND "
                             f"{alternatives.VISIBLE} ORDER BY m.position",
                             (thread_id,))

        return [message_record(r) for r in await run(self.conn, select)]

    async def call_rows(self, thread_id: str, message_id: str | None = None) -> list[dict[str, Any]]:
        """The inspector's rows, without their text: tool results, callers, verdicts, user messages (and ``message_id``).

        Each row: ``id, position, role, tool_calls, tool_call_id, meta, guardrail, created_at`` (JSON decoded).
        """

        def select(db: sqlite3.Connection) -> list[sqlite3.Row]:
            return fetch_all(db, _CALL_ROWS, (thread_id, message_id))

        rows = [dict(r) for r in await run(self.conn, select)]
        for row in rows:
            for column in ("tool_calls", "meta", "guardrail"):
                row[column] = json.loads(row[column]) if row[column] else None
        return rows

    async def first_texts(self, thread_ids: Iterable[str], role: str = "user", chars: int = 200) -> dict[str, str]:
        """The start of each thread's first ``role`` message (labels of untitled threads), in one query per 500."""
        return await run(self.conn, first_texts, list(thread_ids), role, chars)

    async def recover_unfinished(self, older_than: float = 120.0) -> list[str]:
        """Mark replies left ``streaming`` by a process that is gone as ``interrupted``, keeping their text.

        A reply whose writer (``store.process``) no longer runs is marked at once, whatever its age; a
        live process's reply is never touched. A reply whose writer cannot be checked (written by an
        older version, or on another host) is marked once idle for ``older_than`` seconds. Marked
        replies get ``meta["interrupted_reason"] = "app_closed"``. Returns the ids it changed.
        """
        cutoff = now() - older_than

        def change(db: sqlite3.Connection) -> list[str]:
            rows = db.execute("SELECT id, writer, updated_at FROM messages WHERE status = 'streaming'").fetchall()
            alive = {writer: writer_alive(writer) for writer in {r[1] for r in rows}}
            ids = [i for i, writer, updated in rows
                   if alive[writer] is False or (alive[writer] is None and updated < cutoff)]
            db.executemany(
                "UPDATE messages SET status = 'interrupted', "
                "meta = json_set(coalesce(meta, '{}'), '$.interrupted_reason', ?) "
                "WHERE id = ? AND status = 'streaming'", [(APP_CLOSED, i) for i in ids])
            return ids

        return await write(self.conn, change)

    async def mark_quit(self, thread_ids: Iterable[str], since: float) -> int:
        """Give the replies stopped by quitting (interrupted since ``since`` in these threads) the reason
        ``APP_QUIT``; returns how many."""
        rows = [(APP_QUIT, t, since) for t in thread_ids]

        def change(db: sqlite3.Connection) -> int:
            cur = db.executemany(
                "UPDATE messages SET meta = json_set(coalesce(meta, '{}'), '$.interrupted_reason', ?) "
                "WHERE thread_id = ? AND role = 'assistant' AND status = 'interrupted' AND updated_at >= ?", rows)
            return cur.rowcount

        return await write(self.conn, change)

    async def begin_alternative(self, thread_id: str) -> dict[str, Any] | None:
        """Set the thread's last reply aside for a regenerated one (see ``store.alternatives``); None if no reply.

        Returns ``{"thread_id", "slot", "index", "count", "replaces"}``; pass it to ``end_alternative``.
        """
        return await write(self.conn, _begin_alternative, thread_id)

    async def end_alternative(self, begun: Mapping[str, Any]) -> None:
        """Close a regeneration: if no new reply was written, the old one is chosen again."""
        await write(self.conn, alternatives.end, begun["thread_id"], begun["slot"])

    async def select_alternative(self, message_id: str, index: int) -> dict[str, Any]:
        """Choose reply ``index`` (0-based) of the slot holding ``message_id``; the next turn sends that one.

        Returns ``{"index", "count", "message_ids"}`` (the first message of each alternative).
        """
        return await write(self.conn, alternatives.select, message_id, index)

    async def alternatives(self, message_id: str) -> dict[str, Any] | None:
        """``{"index", "count", "message_ids", "own"}`` of the slot holding ``message_id``; None if it has one reply.

        ``index`` is the chosen alternative, ``own`` the one ``message_id`` belongs to (e.g. a search hit's).
        """
        return await run(self.conn, alternatives.info, message_id)

    async def alternative_slots(self, thread_id: str) -> dict[str, dict[str, Any]]:
        """Every reply of the thread that has alternatives, keyed by the id of its first shown message."""

        def select(db: sqlite3.Connection) -> dict[str, dict[str, Any]]:
            require_thread(db, thread_id)
            return alternatives.slots(db, thread_id)

        return await run(self.conn, select)

    async def delete(self, id: str) -> None:
        """Delete one message for good (addition to the contract; other threads' copies stay)."""

        def remove(db: sqlite3.Connection) -> None:
            released = released_by(db, "m.id = ?", (id,))
            if db.execute("DELETE FROM messages WHERE id = ?", (id,)).rowcount == 0:
                raise NotFoundError(f"Message {id} does not exist.")
            collect_garbage(db, released)

        await write(self.conn, remove)


def _begin_alternative(db: sqlite3.Connection, thread_id: str) -> dict[str, Any] | None:
    require_thread(db, thread_id)
    return alternatives.begin(db, thread_id)


def after_insert(db: sqlite3.Connection, thread_id: str, position: int, role: str, status: str) -> None:
    """Record who writes a streaming row, and file a reply row under its slot's alternative."""
    if status == "streaming":
        db.execute("UPDATE messages SET writer = ? WHERE thread_id = ? AND position = ?",
                   (current_writer(), thread_id, position))
    alternatives.join(db, thread_id, position, role)


def _shared(db: sqlite3.Connection, message_id: str, content_id: int, position: int) -> bool:
    origin = db.execute("SELECT origin_thread FROM contents WHERE id = ?", (content_id,)).fetchone()[0]
    return any(h["id"] != message_id for h in holders(db, Lineage(db), content_id, origin, position))


def _copy_content(db: sqlite3.Connection, message_id: str, content_id: int, thread_id: str, position: int,
                  text: str | None = None, token_count: int | None = None) -> int:
    """Give one message its own copy of a shared content (its text replaced when ``text`` is given)."""
    old = db.execute("SELECT text, token_count, thinking, thinking_blocks, images FROM contents WHERE id = ?",
                     (content_id,)).fetchone()
    new_text, count = (old[0], old[1]) if text is None else (text, token_count)
    new_content = insert_content(db, new_text, count, thread_id, position, thinking=old[2],
                                 thinking_blocks=old[3], images=old[4])
    db.execute("UPDATE messages SET content_id = ? WHERE id = ?", (new_content, message_id))
    return new_content


def _own_content(db: sqlite3.Connection, message_id: str, content_id: int, thread_id: str, position: int) -> int:
    """The message's content id, copied first when another message shares it."""
    if _shared(db, message_id, content_id, position):
        return _copy_content(db, message_id, content_id, thread_id, position)
    return content_id


def _set_text(db: sqlite3.Connection, message_id: str, content_id: int, thread_id: str, position: int, text: str,
              token_count: int | None) -> None:
    """Change one message's text: in place when it alone holds it, else copy-on-write (thinking and images too)."""
    if _shared(db, message_id, content_id, position):
        _copy_content(db, message_id, content_id, thread_id, position, text, token_count)
    else:
        db.execute("UPDATE contents SET text = ?, token_count = ?, chars = ?, bytes = ? WHERE id = ?",
                   (text, token_count, len(text), len(text.encode("utf-8", "surrogatepass")), content_id))
