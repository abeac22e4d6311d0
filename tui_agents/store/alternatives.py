"""Regenerated replies kept side by side on one message slot; one of them is chosen.

A reply is the messages after the thread's last user message (an assistant
message, and in a tool loop its tool results and the next assistant message).
Regenerating it tags those rows as alternative 0 of a slot (``alt_slot`` is the
position of the slot's first row) and writes the new reply as alternative 1 at
the next positions. Rows keep their positions, so ``list()`` and the memory
strategies simply skip the rows whose ``alt_state`` is ``OTHER``: only the
chosen alternative is shown and sent. Nothing is deleted, and forks and
branches copy the columns, so they carry the alternatives.

While a regeneration runs, the old reply is ``REPLACING``: still shown (a
regeneration that fails before its first token changes nothing) until the new
reply's first row is written, which turns it into ``OTHER`` in the same
transaction.
"""

from __future__ import annotations

import sqlite3
from typing import Any, NamedTuple

from tui_agents.errors import InvalidArgumentError, NotFoundError

__all__ = ["CHOSEN", "OTHER", "REPLACING", "VISIBLE", "join", "begin", "end", "select", "info", "slots"]

CHOSEN, OTHER, REPLACING = 0, 1, 2
VISIBLE = "m.alt_state != 1"  # SQL filter on ``messages AS m``: the chosen alternatives and plain messages


class _Row(NamedTuple):
    id: str
    position: int
    slot: int | None
    index: int | None
    state: int


def _last_user(db: sqlite3.Connection, thread_id: str) -> int | None:
    """Position of the thread's last user message (walks the primary key backwards, stops at the first)."""
    row = db.execute("SELECT position FROM messages WHERE thread_id = ? AND role = 'user' "
                     "ORDER BY position DESC LIMIT 1", (thread_id,)).fetchone()
    return None if row is None else int(row[0])


def _tail(db: sqlite3.Connection, thread_id: str, after: int, before: int | None = None) -> list[_Row]:
    """The rows between two positions (exclusive), in order."""
    sql = "SELECT id, position, alt_slot, alt_index, alt_state FROM messages WHERE thread_id = ? AND position > ?"
    params: list[Any] = [thread_id, after]
    if before is not None:
        sql += " AND position < ?"
        params.append(before)
    return [_Row(*r) for r in db.execute(sql + " ORDER BY position", params)]


def _tag(db: sqlite3.Connection, thread_id: str, position: int, slot: int, index: int, state: int) -> None:
    db.execute("UPDATE messages SET alt_slot = ?, alt_index = ?, alt_state = ? WHERE thread_id = ? AND position = ?",
               (slot, index, state, thread_id, position))


def join(db: sqlite3.Connection, thread_id: str, position: int, role: str) -> None:
    """File a just-added reply row under its slot's alternative, if the reply it follows has alternatives."""
    if role == "user":
        return
    last_user = _last_user(db, thread_id) or 0
    tagged = [r for r in _tail(db, thread_id, last_user, position) if r.slot is not None]
    if not tagged:
        return
    replacing = [r for r in tagged if r.state == REPLACING]
    chosen = [r for r in tagged if r.state == CHOSEN]
    if replacing:  # the first row of a regenerated reply: the old one steps aside now
        db.execute("UPDATE messages SET alt_state = ? WHERE thread_id = ? AND position > ? AND alt_state = ?",
                   (OTHER, thread_id, last_user, REPLACING))
        index = max(r.index for r in tagged) + 1  # type: ignore[type-var]
    elif chosen:  # a later row of the same reply (tool results, the answer after them)
        index = chosen[0].index  # type: ignore[assignment]
    else:  # every earlier alternative is set aside: this row starts a new one
        index = max(r.index for r in tagged) + 1  # type: ignore[type-var]
    _tag(db, thread_id, position, tagged[0].slot, index, CHOSEN)  # type: ignore[arg-type]


def begin(db: sqlite3.Connection, thread_id: str) -> dict[str, Any] | None:
    """Mark the thread's last reply as being replaced; None when there is no reply to keep.

    Returns ``{"thread_id", "slot", "index", "count", "replaces"}``: the new reply's index, the count
    including it, and the id of the first message of the reply it replaces (None if none is shown).
    """
    last_user = _last_user(db, thread_id)
    if last_user is None:
        return None
    rows = _tail(db, thread_id, last_user)
    if not rows:
        return None
    tagged = [r for r in rows if r.slot is not None]
    slot = tagged[0].slot if tagged else rows[0].position
    shown = [r for r in rows if r.state != OTHER]
    current = next((r.index for r in shown if r.index is not None), None)
    if current is None:
        current = 0 if not tagged else max(r.index for r in tagged) + 1  # type: ignore[type-var]
    for row in shown:
        _tag(db, thread_id, row.position, slot, row.index if row.index is not None else current, REPLACING)
    indexes = [r.index for r in tagged] + ([current] if shown else [])
    new = max(indexes) + 1  # type: ignore[type-var]
    return {"thread_id": thread_id, "slot": slot, "index": new, "count": new + 1,
            "replaces": shown[0].id if shown else None}


def end(db: sqlite3.Connection, thread_id: str, slot: int) -> None:
    """After a regeneration: a reply still marked as being replaced (no new reply came) is chosen again.

    A slot left with one alternative is a plain reply again.
    """
    db.execute("UPDATE messages SET alt_state = ? WHERE thread_id = ? AND position >= ? AND alt_state = ?",
               (CHOSEN, thread_id, slot, REPLACING))
    top = db.execute("SELECT max(alt_index) FROM messages WHERE thread_id = ? AND position >= ? AND alt_slot = ?",
                     (thread_id, slot, slot)).fetchone()[0]
    if top == 0:
        db.execute("UPDATE messages SET alt_slot = NULL, alt_index = NULL WHERE thread_id = ? AND position >= ? "
                   "AND alt_slot = ?", (thread_id, slot, slot))


def _slot_of(db: sqlite3.Connection, message_id: str) -> tuple[str, int | None]:
    row = db.execute("SELECT thread_id, alt_slot FROM messages WHERE id = ?", (message_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"Message {message_id} does not exist.")
    return row[0], row[1]


def _slot_rows(db: sqlite3.Connection, thread_id: str, slot: int) -> list[_Row]:
    return [_Row(*r) for r in db.execute(
        "SELECT id, position, alt_slot, alt_index, alt_state FROM messages "
        "WHERE thread_id = ? AND position >= ? AND alt_slot = ? ORDER BY position", (thread_id, slot, slot))]


def _describe(rows: list[_Row]) -> dict[str, Any]:
    """``{"index", "count", "message_ids"}``: the chosen index and the first message of each alternative."""
    firsts: dict[int, str] = {}
    for row in rows:
        firsts.setdefault(row.index, row.id)  # type: ignore[arg-type]
    chosen = next((r.index for r in rows if r.state != OTHER), None)
    count = max(firsts) + 1
    return {"index": chosen, "count": count, "message_ids": [firsts.get(i) for i in range(count)]}


def info(db: sqlite3.Connection, message_id: str) -> dict[str, Any] | None:
    """The alternatives of the slot holding ``message_id``, plus ``own`` (the one it belongs to); None if none."""
    thread_id, slot = _slot_of(db, message_id)
    if slot is None:
        return None
    rows = _slot_rows(db, thread_id, slot)
    return {**_describe(rows), "own": next(r.index for r in rows if r.id == message_id)}


def select(db: sqlite3.Connection, message_id: str, index: int) -> dict[str, Any]:
    """Choose alternative ``index`` (0-based) of the slot holding ``message_id``; returns ``info``."""
    thread_id, slot = _slot_of(db, message_id)
    if slot is None:
        if index == 0:
            return {"index": 0, "count": 1, "message_ids": [message_id]}
        raise InvalidArgumentError(f"Message {message_id} has no other replies to choose from.")
    count = _describe(_slot_rows(db, thread_id, slot))["count"]
    if not isinstance(index, int) or not 0 <= index < count:
        raise InvalidArgumentError(f"Reply {index} does not exist: this message has replies 0 to {count - 1}.")
    db.execute("UPDATE messages SET alt_state = CASE WHEN alt_index = ? THEN ? ELSE ? END "
               "WHERE thread_id = ? AND position >= ? AND alt_slot = ?", (index, CHOSEN, OTHER, thread_id, slot, slot))
    return _describe(_slot_rows(db, thread_id, slot))


def slots(db: sqlite3.Connection, thread_id: str) -> dict[str, dict[str, Any]]:
    """Every slot of a thread with alternatives, keyed by the first shown message of its chosen one."""
    rows = [_Row(*r) for r in db.execute(
        # the partial index holds only rows with alternatives: a long thread's other messages are never read
        "SELECT id, position, alt_slot, alt_index, alt_state FROM messages INDEXED BY messages_alternatives "
        "WHERE thread_id = ? AND alt_slot IS NOT NULL ORDER BY position", (thread_id,))]
    by_slot: dict[int, list[_Row]] = {}
    for row in rows:
        by_slot.setdefault(row.slot, []).append(row)  # type: ignore[arg-type]
    out: dict[str, dict[str, Any]] = {}
    for members in by_slot.values():
        shown = next((r for r in members if r.state != OTHER), None)
        if shown is not None:
            out[shown.id] = _describe(members)
    return out
