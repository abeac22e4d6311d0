"""StateStore: small facts about the app's last session, kept in the database (e.g. the last thread opened)."""

from __future__ import annotations

import sqlite3
from typing import Any

import aiosqlite

from tui_agents.errors import InvalidArgumentError
from tui_agents.store.db import run, write
from tui_agents.store.messages import require_thread
from tui_agents.store.records import dumps, loads, now

__all__ = ["StateStore"]


def _last_thread_key(user_id: str | None) -> str:
    return f"last_thread:{user_id or ''}"


class StateStore:
    """Key/value app state (JSON values) and the last thread each user opened."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def get(self, key: str, default: Any = None) -> Any:
        """The value stored under ``key``, or ``default``."""
        row = await run(self.conn, lambda db: db.execute("SELECT value FROM app_state WHERE key = ?",
                                                         (key,)).fetchone())
        return default if row is None else loads(row[0])

    async def set(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable ``value`` under ``key`` (None removes it)."""
        if not isinstance(key, str) or not key:
            raise InvalidArgumentError("A state key must be non-empty text.")
        try:
            text = dumps(value)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"The value for {key!r} cannot be stored as JSON: {exc}.") from exc

        def change(db: sqlite3.Connection) -> None:
            if text is None:
                db.execute("DELETE FROM app_state WHERE key = ?", (key,))
            else:
                db.execute("INSERT INTO app_state(key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) "
                           "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                           (key, text, now()))

        await write(self.conn, change)

    async def set_last_thread(self, thread_id: str | None, user_id: str | None = None) -> None:
        """Remember the thread the user has open (None: the new chat), to reopen it at the next start."""

        def change(db: sqlite3.Connection) -> None:
            key = _last_thread_key(user_id)
            if thread_id is None:
                db.execute("DELETE FROM app_state WHERE key = ?", (key,))
                return
            require_thread(db, thread_id)
            db.execute("INSERT INTO app_state(key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) "
                       "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                       (key, dumps(thread_id), now()))

        await write(self.conn, change)

    async def last_thread(self, user_id: str | None = None) -> str | None:
        """The thread to reopen: the last one opened, unless it was since deleted or trashed."""

        def select(db: sqlite3.Connection) -> str | None:
            row = db.execute("SELECT t.id FROM app_state AS s JOIN threads AS t ON t.id = json_extract(s.value, '$') "
                             "WHERE s.key = ? AND t.trashed_at IS NULL", (_last_thread_key(user_id),)).fetchone()
            return None if row is None else row[0]

        return await run(self.conn, select)
