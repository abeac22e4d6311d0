"""UserMemoryStore: facts about a user that every thread can use (name, timezone, preferences).

Each fact records who wrote it: the user (``"user"``), the model through the
``remember`` tool (``"tool"``) or the background extractor (``"extractor"``).
A user can require approval of facts a model wrote (``set_requires_approval``):
then ``set`` with a model source keeps the fact pending (``list_pending``), out
of ``get_all`` and so out of the system prompt, until ``approve`` (or ``reject``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

import aiosqlite

from tui_agents.errors import InvalidArgumentError, NotFoundError
from tui_agents.store.db import run, write
from tui_agents.store.records import MemoryRecord, fetch_all, fetch_one, now

__all__ = ["UserMemoryStore", "SOURCES", "MODEL_SOURCES"]

SOURCES = ("user", "tool", "extractor")
MODEL_SOURCES = ("tool", "extractor")
_COLUMNS = "user_id, key, value, category, source, updated_at"
_UPSERT = ("ON CONFLICT(user_id, key) DO UPDATE SET value = excluded.value, category = excluded.category, "
           "source = excluded.source, updated_at = excluded.updated_at")


def _record(row: sqlite3.Row) -> MemoryRecord:
    return MemoryRecord(user_id=row["user_id"], key=row["key"], value=row["value"], category=row["category"],
                        source=row["source"], updated_at=row["updated_at"])


def _requires_approval(db: sqlite3.Connection, user_id: str) -> bool:
    row = db.execute("SELECT approve_model_facts FROM user_memory_policy WHERE user_id = ?", (user_id,)).fetchone()
    return bool(row and row[0])


class UserMemoryStore:
    """Per-user key/value facts with a category and where they came from."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def set(self, user_id: str, key: str, value: Any, category: str = "general",
                  source: str = "user") -> MemoryRecord:
        """Insert or replace a fact; ``source`` is "user", "tool" or "extractor".

        A fact from a model source is kept pending instead when the user requires approval.
        """
        if source not in SOURCES:
            raise InvalidArgumentError(f"Memory source {source!r} is not one of {', '.join(SOURCES)}.")
        key = (key or "").strip()
        if not key:
            raise InvalidArgumentError("A memory fact needs a non-empty key.")
        record = MemoryRecord(user_id=user_id, key=key, value=str(value), category=category or "general",
                              source=source, updated_at=now())

        def upsert(db: sqlite3.Connection) -> None:
            table = "user_memory"
            if source in MODEL_SOURCES and _requires_approval(db, user_id):
                table = "user_memory_pending"
            db.execute(f"INSERT INTO {table}({_COLUMNS}) VALUES (?,?,?,?,?,?) {_UPSERT}", tuple(record.values()))

        await write(self.conn, upsert)
        return record

    async def requires_approval(self, user_id: str) -> bool:
        """Whether facts a model writes for this user wait for approval."""
        return await run(self.conn, _requires_approval, user_id)

    async def set_requires_approval(self, user_id: str, required: bool) -> None:
        """Make facts a model writes for this user wait for approval (``True``) or apply at once."""

        def store(db: sqlite3.Connection) -> None:
            db.execute("INSERT INTO user_memory_policy(user_id, approve_model_facts) VALUES (?, ?) "
                       "ON CONFLICT(user_id) DO UPDATE SET approve_model_facts = excluded.approve_model_facts",
                       (user_id, int(bool(required))))

        await write(self.conn, store)

    async def list_pending(self, user_id: str) -> list[MemoryRecord]:
        """Facts a model wrote that wait for the user's approval, oldest first."""
        rows = await run(self.conn, fetch_all, "SELECT * FROM user_memory_pending WHERE user_id = ? "
                         "ORDER BY updated_at, key", (user_id,))
        return [_record(r) for r in rows]

    async def approve(self, user_id: str, key: str) -> MemoryRecord:
        """Make a pending fact a fact (it enters the system prompt), keeping its model source."""

        def move(db: sqlite3.Connection) -> MemoryRecord:
            row = fetch_one(db, "SELECT * FROM user_memory_pending WHERE user_id = ? AND key = ?", (user_id, key))
            if row is None:
                raise NotFoundError(f"No fact {key!r} is waiting for approval.")
            record = _record(row)
            db.execute(f"INSERT INTO user_memory({_COLUMNS}) VALUES (?,?,?,?,?,?) {_UPSERT}", tuple(record.values()))
            db.execute("DELETE FROM user_memory_pending WHERE user_id = ? AND key = ?", (user_id, key))
            return record

        return await write(self.conn, move)

    async def reject(self, user_id: str, key: str) -> bool:
        """Drop a pending fact; True if there was one."""

        def remove(db: sqlite3.Connection) -> bool:
            cursor = db.execute("DELETE FROM user_memory_pending WHERE user_id = ? AND key = ?", (user_id, key))
            return cursor.rowcount > 0

        return await write(self.conn, remove)

    async def get(self, user_id: str, key: str) -> str | None:
        """The fact's value, or None."""

        def select(db: sqlite3.Connection) -> str | None:
            row = db.execute("SELECT value FROM user_memory WHERE user_id = ? AND key = ?", (user_id, key)).fetchone()
            return None if row is None else row[0]

        return await run(self.conn, select)

    async def get_all(self, user_id: str, category: str | None = None) -> list[MemoryRecord]:
        """Every fact of the user (optionally of one category), by category then key; pending ones excluded."""
        rows = await run(self.conn, fetch_all,
                         "SELECT * FROM user_memory WHERE user_id = :uid AND (:cat IS NULL OR category = :cat) "
                         "ORDER BY category, key", {"uid": user_id, "cat": category})
        return [_record(r) for r in rows]

    async def delete(self, user_id: str, key: str) -> bool:
        """Forget a fact; True if it existed."""

        def remove(db: sqlite3.Connection) -> bool:
            return db.execute("DELETE FROM user_memory WHERE user_id = ? AND key = ?", (user_id, key)).rowcount > 0

        return await write(self.conn, remove)

    def format_for_prompt(self, facts: Iterable[Mapping[str, Any]] | Mapping[str, Any]) -> str:
        """Facts as a short block for a system prompt ("" when there are none)."""
        if isinstance(facts, Mapping):
            facts = [{"key": k, "value": v, "category": "general"} for k, v in facts.items()]
        groups: dict[str, list[str]] = {}
        for fact in facts:
            line = f"- {fact['key']}: {fact['value']}"
            groups.setdefault(fact.get("category") or "general", []).append(line)
        if not groups:
            return ""
        lines = ["What you know about the user:"]
        for category in sorted(groups, key=lambda c: (c != "general", c)):
            if category != "general":
                lines.append(f"{category.capitalize()}:")
            lines.extend(groups[category])
        return "\n".join(lines)
