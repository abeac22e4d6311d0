"""UserMemoryStore: facts about a user that every thread can use (name, timezone, preferences)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

import aiosqlite

from tui_agents.errors import InvalidArgumentError
from tui_agents.store.db import run, write
from tui_agents.store.records import MemoryRecord, fetch_all, now

__all__ = ["UserMemoryStore", "SOURCES"]

SOURCES = ("user", "tool", "extractor")


def _record(row: sqlite3.Row) -> MemoryRecord:
    return MemoryRecord(user_id=row["user_id"], key=row["key"], value=row["value"], category=row["category"],
                        source=row["source"], updated_at=row["updated_at"])


class UserMemoryStore:
    """Per-user key/value facts with a category and where they came from."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def set(self, user_id: str, key: str, value: Any, category: str = "general",
                  source: str = "user") -> MemoryRecord:
        """Insert or replace a fact; ``source`` is "user", "tool" or "extractor"."""
        if source not in SOURCES:
            raise InvalidArgumentError(f"Memory source {source!r} is not one of {', '.join(SOURCES)}.")
        key = (key or "").strip()
        if not key:
            raise InvalidArgumentError("A memory fact needs a non-empty key.")
        record = MemoryRecord(user_id=user_id, key=key, value=str(value), category=category or "general",
                              source=source, updated_at=now())

        def upsert(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO user_memory(user_id, key, value, category, source, updated_at) VALUES (?,?,?,?,?,?) "
                "ON CONFLICT(user_id, key) DO UPDATE SET value = excluded.value, category = excluded.category, "
                "source = excluded.source, updated_at = excluded.updated_at", tuple(record.values()))

        await write(self.conn, upsert)
        return record

    async def get(self, user_id: str, key: str) -> str | None:
        """The fact's value, or None."""

        def select(db: sqlite3.Connection) -> str | None:
            row = db.execute("SELECT value FROM user_memory WHERE user_id = ? AND key = ?", (user_id, key)).fetchone()
            return None if row is None else row[0]

        return await run(self.conn, select)

    async def get_all(self, user_id: str, category: str | None = None) -> list[MemoryRecord]:
        """Every fact of the user (optionally of one category), by category then key."""
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
