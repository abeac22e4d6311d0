"""The sidebar's first page of threads, read with the standard ``sqlite3`` module alone.

The app starts this read at launch, in a thread, before Textual is imported (``tui/startup.py``), so the
newest threads can be in the first frame. It imports no other store module and not aiosqlite: those
imports would compete with the app's own for the interpreter lock while the first frame is built.
``ThreadStore.tree`` / ``tree_page`` and ``MessageStore.first_texts`` use the same queries.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:  # pragma: no cover
    from tui_agents.store.records import ThreadRecord, TreeNode

__all__ = ["COLUMNS", "VISIBLE", "first_page", "first_texts", "tree_order", "tree_page"]

COLUMNS = ("id, agent_id, user_id, title, title_source, summary, provider, model, created_at, updated_at, "
           "archived_at, trashed_at, forked_from, forked_from_message, fork_kind")
"""A thread record's columns, in ``ThreadRecord`` order."""
VISIBLE = "t.trashed_at IS NULL AND (:uid IS NULL OR t.user_id = :uid)"
"""Threads (``t``) the user ``:uid`` sees (None: every user's)."""
_SHOWN_ROOT = (f"{VISIBLE} AND t.archived_at IS NULL AND NOT EXISTS (SELECT 1 FROM threads AS p WHERE "
               "p.id = t.forked_from AND p.trashed_at IS NULL AND p.archived_at IS NULL "
               "AND (:uid IS NULL OR p.user_id = :uid))")


def _dicts(db: sqlite3.Connection, sql: str, params: Any) -> list[dict[str, Any]]:
    cur = db.cursor()
    cur.row_factory = None
    cur.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur]


def tree_order(threads: list[ThreadRecord]) -> list[TreeNode]:
    """Depth-first drawing order: roots in the given order, children oldest first."""
    shown = {t["id"] for t in threads}
    children: dict[str | None, list[ThreadRecord]] = defaultdict(list)
    for t in threads:
        parent = t["forked_from"] if t["forked_from"] in shown else None
        children[parent].append(t)
    for parent, kids in children.items():
        if parent is not None:
            kids.sort(key=lambda t: (t["created_at"], t["id"]))
    out: list[TreeNode] = []
    stack = [(t, None, 0) for t in reversed(children[None])]
    while stack:
        thread, parent, depth = stack.pop()
        out.append({**thread, "parent_id": parent, "depth": depth})  # type: ignore[typeddict-item]
        stack.extend((kid, thread["id"], depth + 1) for kid in reversed(children.get(thread["id"], [])))
    return out


def tree_page(db: sqlite3.Connection, params: dict[str, Any]) -> list[TreeNode]:
    """The first ``:lim`` nodes of the active tree of ``:uid``: the newest ``:lim`` roots and their shown forks.

    A page of N rows lies within the subtrees of the first N roots, so the result equals the start of
    ``ThreadStore.tree()`` (two indexed queries: the roots by ``threads_activity``, their forks by
    ``threads_parent``).
    """
    roots = _dicts(db, f"SELECT {COLUMNS} FROM threads AS t WHERE {_SHOWN_ROOT} "
                       "ORDER BY t.updated_at DESC, t.seq DESC LIMIT :lim", params)
    if not roots:
        return []
    forks = _dicts(db, (
        "WITH RECURSIVE sub(id) AS (SELECT value FROM json_each(:roots) UNION "
        "SELECT t.id FROM threads AS t JOIN sub ON t.forked_from = sub.id "
        f"WHERE {VISIBLE} AND t.archived_at IS NULL) "
        f"SELECT {COLUMNS} FROM threads AS t WHERE t.id IN (SELECT id FROM sub) "
        "AND t.id NOT IN (SELECT value FROM json_each(:roots))"),
        {**params, "roots": json.dumps([r["id"] for r in roots])})
    return tree_order(roots + forks)[:params["lim"]]  # type: ignore[arg-type]


def first_texts(db: sqlite3.Connection, thread_ids: Iterable[str], role: str = "user",
                chars: int = 200) -> dict[str, str]:
    """The start of each thread's first ``role`` message (labels of untitled threads), in one query per 500."""
    ids = list(thread_ids)
    out: dict[str, str] = {}
    for i in range(0, len(ids), 500):  # SQLite's variable limit
        chunk = ids[i:i + 500]
        sql = ("SELECT t.id, (SELECT substr(c.text, 1, ?) FROM messages AS m JOIN contents AS c "
               "ON c.id = m.content_id WHERE m.thread_id = t.id AND m.role = ? "
               "ORDER BY m.position LIMIT 1) FROM threads AS t "
               f"WHERE t.id IN ({','.join('?' * len(chunk))})")
        out.update({row[0]: row[1] for row in db.execute(sql, (chars, role, *chunk)) if row[1]})
    return out


def first_page(path: str | os.PathLike[str], limit: int) -> tuple[list[TreeNode], dict[str, str]] | None:
    """The sidebar's first ``limit`` rows (as ``ThreadStore.tree_page``) and the labels of the untitled ones.

    Read on a short-lived connection of its own, so the app can draw its thread list before the store
    (and the engine it loads) is open. None when there is no database yet, its schema is not the
    current one (opening the store migrates it), or it cannot be read: the store's own path follows.
    """
    from tui_agents.store.migrations import latest_version

    try:
        db = sqlite3.connect(f"file:{quote(os.fspath(path))}?mode=rw", uri=True, timeout=0.5)
    except (sqlite3.Error, OSError):
        return None
    try:
        if int(db.execute("PRAGMA user_version").fetchone()[0]) != latest_version():
            return None
        db.execute("BEGIN")  # one snapshot for both queries
        nodes = tree_page(db, {"uid": None, "lim": int(limit)})
        labels = first_texts(db, [n["id"] for n in nodes if not n["title"]])
        db.execute("COMMIT")
        return nodes, labels
    except sqlite3.Error:
        return None
    finally:
        db.close()
