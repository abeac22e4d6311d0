"""DraftStore: the unsent text of each thread's composer, kept across restarts.

A draft belongs to a thread (``None`` is the new chat that has no thread yet);
deleting the thread deletes its draft. Setting an empty (or blank) draft clears it.
"""

from __future__ import annotations

import sqlite3

import aiosqlite

from tui_agents.errors import InvalidArgumentError
from tui_agents.store.db import run, write
from tui_agents.store.messages import require_thread
from tui_agents.store.records import now, storable

__all__ = ["DraftStore"]

_NEW_CHAT = ""  # the key of the new chat's draft


def _key(thread_id: str | None) -> str:
    if thread_id is not None and not isinstance(thread_id, str):
        raise InvalidArgumentError("A draft belongs to a thread id (text) or to the new chat (None).")
    return thread_id or _NEW_CHAT


class DraftStore:
    """Per-thread drafts: ``set``, ``get``, ``clear`` and ``all``."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def set(self, thread_id: str | None, text: str) -> None:
        """Keep ``text`` as the thread's draft (blank text clears it)."""
        if not isinstance(text, str):
            raise InvalidArgumentError("A draft must be text.")
        key = _key(thread_id)
        if not text.strip():
            await self.clear(thread_id)
            return
        text = storable(text)

        def upsert(db: sqlite3.Connection) -> None:
            if key:
                require_thread(db, key)
            db.execute("INSERT INTO drafts(thread_id, text, updated_at) VALUES (?, ?, ?) "
                       "ON CONFLICT(thread_id) DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at",
                       (key, text, now()))

        await write(self.conn, upsert)

    async def get(self, thread_id: str | None) -> str:
        """The thread's draft, or "" when it has none."""
        key = _key(thread_id)

        def select(db: sqlite3.Connection) -> str:
            row = db.execute("SELECT text FROM drafts WHERE thread_id = ?", (key,)).fetchone()
            return "" if row is None else row[0]

        return await run(self.conn, select)

    async def clear(self, thread_id: str | None) -> None:
        """Forget the thread's draft (after it was sent)."""
        key = _key(thread_id)
        await write(self.conn, lambda db: db.execute("DELETE FROM drafts WHERE thread_id = ?", (key,)))

    async def all(self) -> dict[str | None, str]:
        """Every draft by thread id (None for the new chat), e.g. to mark threads with unsent text."""

        def select(db: sqlite3.Connection) -> dict[str | None, str]:
            return {(k or None): t for k, t in db.execute("SELECT thread_id, text FROM drafts ORDER BY updated_at")}

        return await run(self.conn, select)
