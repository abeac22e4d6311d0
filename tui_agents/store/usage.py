"""UsageStore: token totals of assistant replies, by model, day or thread.

Only a reply's original row counts: a fork or branch copies its messages (they
point at the same ``contents`` row, whose origin is the first thread), and the
copies cost nothing again. A failed or stopped reply without reported usage is
not a reply with zero tokens: it is left out.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Literal

import aiosqlite

from tui_agents.errors import InvalidArgumentError
from tui_agents.store.db import run

__all__ = ["UsageStore", "GROUPINGS"]

GROUPINGS = ("model", "day", "thread")

_KEYS = {
    "model": "COALESCE(m.model, '')",
    "day": "date(m.created_at, 'unixepoch', 'localtime')",
    "thread": "m.thread_id",
}

_TOTALS = """
SELECT {key} AS key, t.provider AS provider, m.model AS model, MAX(t.title) AS title, COUNT(*) AS replies,
       SUM(COALESCE(json_extract(m.usage, '$.input_tokens'), 0)) AS input_tokens,
       SUM(COALESCE(json_extract(m.usage, '$.output_tokens'), 0)) AS output_tokens
FROM messages AS m
JOIN contents AS c ON c.id = m.content_id
JOIN threads AS t ON t.id = m.thread_id
WHERE m.role = 'assistant' AND m.usage IS NOT NULL
  AND (m.status = 'complete' OR COALESCE(json_extract(m.usage, '$.input_tokens'), 0) > 0
       OR COALESCE(json_extract(m.usage, '$.output_tokens'), 0) > 0)
  AND (c.origin_thread = m.thread_id OR NOT EXISTS (SELECT 1 FROM threads AS o WHERE o.id = c.origin_thread))
  AND m.created_at >= :since {thread_filter}
GROUP BY key, t.provider, m.model
ORDER BY key, t.provider, m.model
"""


def _totals(db: sqlite3.Connection, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(row) for row in db.execute(sql, params).fetchall()]


class UsageStore:
    """Read-only token totals over the messages table."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def totals(self, by: Literal["model", "day", "thread"] = "model", since: float | None = None,
                     thread_id: str | None = None) -> list[dict[str, Any]]:
        """Rows of ``key, provider, model, title, replies, input_tokens, output_tokens``, one per key and model.

        ``key`` is the model, the local date (YYYY-MM-DD) or the thread id;
        ``since`` is a Unix time; ``thread_id`` keeps one thread's replies.
        """
        if by not in _KEYS:
            raise InvalidArgumentError(f"Usage can be grouped by {', '.join(GROUPINGS)}, not {by!r}.")
        sql = _TOTALS.format(key=_KEYS[by], thread_filter="AND m.thread_id = :thread" if thread_id else "")
        params = {"since": float(since or 0), "thread": thread_id}
        return await run(self.conn, _totals, sql, params)

    async def thread_totals(self, thread_id: str) -> dict[str, int]:
        """One thread's ``replies, input_tokens, output_tokens`` (the thread header's figures)."""
        rows = await self.totals("thread", thread_id=thread_id)
        return {
            "replies": sum(r["replies"] for r in rows),
            "input_tokens": sum(r["input_tokens"] for r in rows),
            "output_tokens": sum(r["output_tokens"] for r in rows),
        }
