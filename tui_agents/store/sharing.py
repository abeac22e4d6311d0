"""Finding the messages that share a content, and deleting contents nobody holds any more.

A content written at (origin thread, position) can only be held at that
position by the origin thread or by one of its descendants (forks and branches
keep positions); ``thread_links`` lists every fork ever made, so the holders are
a few primary-key probes instead of an index over a million content ids (see
``migrations``).
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable

__all__ = ["Lineage", "holders", "collect_garbage", "released_by", "HOLDER_COLUMNS"]

HOLDER_COLUMNS = ("id", "thread_id", "role", "created_at", "title", "born", "thread_seq", "trashed_at",
                  "user_id")
_HOLDERS_SQL = (
    "SELECT m.id, m.thread_id, m.role, m.created_at, t.title, t.created_at, t.seq, t.trashed_at, t.user_id "
    "FROM messages AS m JOIN threads AS t ON t.id = m.thread_id "
    "WHERE m.thread_id IN ({marks}) AND m.position = ? AND m.content_id = ?"
)


class Lineage:
    """Every fork link, loaded once per operation: descendants of a thread, itself included."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.children: dict[str, list[str]] = defaultdict(list)
        for child, parent in db.execute("SELECT child, parent FROM thread_links"):
            self.children[parent].append(child)
        self._memo: dict[str, tuple[str, ...]] = {}

    def family(self, thread_id: str) -> tuple[str, ...]:
        """The thread and all threads forked or branched from it, at any depth."""
        found = self._memo.get(thread_id)
        if found is None:
            seen, todo = {thread_id}, [thread_id]
            while todo:
                for child in self.children.get(todo.pop(), ()):
                    if child not in seen:
                        seen.add(child)
                        todo.append(child)
            found = self._memo[thread_id] = tuple(seen)
        return found


def holders(db: sqlite3.Connection, lineage: Lineage, content_id: int, origin: str,
            position: int) -> list[dict[str, object]]:
    """Every message holding the content, with its thread's title, creation time, trash mark and user."""
    family = lineage.family(origin)
    sql = _HOLDERS_SQL.format(marks=",".join("?" * len(family)))
    return [dict(zip(HOLDER_COLUMNS, row)) for row in db.execute(sql, (*family, position, content_id))]


def collect_garbage(db: sqlite3.Connection, released: Iterable[tuple[int, str, int]]) -> int:
    """Delete the contents among ``(content_id, origin, position)`` that no message holds; returns how many.

    Call it after deleting the messages that held them.
    """
    lineage: Lineage | None = None
    garbage = []
    for content_id, origin, position in set(released):
        lineage = lineage or Lineage(db)
        family = lineage.family(origin)
        if len(family) > 1:
            sql = (f"SELECT 1 FROM messages WHERE thread_id IN ({','.join('?' * len(family))}) "
                   "AND position = ? AND content_id = ? LIMIT 1")
            if db.execute(sql, (*family, position, content_id)).fetchone() is not None:
                continue
        # a never-forked origin: the deleted message was the only possible holder
        garbage.append((content_id,))
    db.executemany("DELETE FROM contents WHERE id = ?", garbage)
    return len(garbage)


def released_by(db: sqlite3.Connection, where: str, params: tuple[object, ...]) -> list[tuple[int, str, int]]:
    """``(content_id, origin, position)`` of the messages matching ``where`` (about to be deleted)."""
    return db.execute(
        "SELECT m.content_id, c.origin_thread, c.origin_position FROM messages AS m "
        f"JOIN contents AS c ON c.id = m.content_id WHERE {where}", params).fetchall()
