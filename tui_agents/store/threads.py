"""ThreadStore: threads, their titles, archive and trash, forks and branches, lineage, and search.

Forks and branches share message content with their parent (rows point at the
same ``contents`` row), so copying a 10,000-message thread writes only small
message rows in one ``INSERT ... SELECT`` and re-indexes nothing. New message
ids for the copies are made in SQL from one reserved block of ``new_id``
counters, so they sort like any other id. The copy also gets the source's
thread grants. Deleting a thread keeps its forks (their ``forked_from`` becomes
None) and the text they share.

Search (``search``) matches thread titles and message text, never trashed
threads (archived ones are searched), made safe by ``store.search``. A message
shared by several threads (forks, branches) is ONE hit, attributed to the
newest of those threads (by creation: the copy the user most likely works in)
that the query may show, with ``other_threads`` (an addition to the contract)
saying how many more shown threads hold the same message. A message edited in
a fork is its own content, so it is a hit of its own.
``order="newest"`` (default) returns the newest matches first (FTS5 walks its
index backwards and stops at ``limit``: bounded whatever the history size);
title hits are merged in by the thread's last activity. ``order="best"`` puts
title hits first (bm25 on titles) and then message hits ranked by the
app-side BM25 over the newest ``BEST_WINDOW`` matches (see ``store.search``).
Snippets wrap matched terms in ``[[`` and ``]]``; ``score`` is 0.0 in newest
order and higher-is-better in best order.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Literal

import aiosqlite

from tui_agents.errors import InvalidArgumentError, NotFoundError
from tui_agents.store.alternatives import CHOSEN, OTHER, REPLACING, VISIBLE
from tui_agents.store.db import run, write
from tui_agents.store.first_page import COLUMNS as _COLUMNS
from tui_agents.store.first_page import VISIBLE as _VISIBLE
from tui_agents.store.first_page import first_page, first_texts, tree_order, tree_page
from tui_agents.store.ids import new_id, new_id_block
from tui_agents.store.records import (SearchHit, ThreadRecord, TreeNode, dumps, fetch_all, fetch_dicts, fetch_one,
                                      now)
from tui_agents.store.search import BEST_WINDOW, SNIPPET_TOKENS, BestScorer, match_expression, parse_query
from tui_agents.store.sharing import Lineage, collect_garbage, holders, released_by

__all__ = ["ThreadStore", "first_page", "first_texts"]

_MESSAGE_COPY_COLUMNS = ("role, content_id, tool_calls, tool_call_id, status, model, usage, guardrail, meta, "
                         "created_at, updated_at")
_MESSAGE_COPY_COLUMNS += ", alt_slot, alt_index, alt_state"  # a reply's regenerated alternatives travel too
# A reply still streaming in the source gets no more text in the copy: it is interrupted there.
_COPIED_COLUMNS = _MESSAGE_COPY_COLUMNS.replace(
    "status", "CASE status WHEN 'streaming' THEN 'interrupted' ELSE status END")
_COPIED_COLUMNS = _COPIED_COLUMNS.replace(  # a regeneration in progress in the source is not one in the copy
    "alt_state", f"CASE alt_state WHEN {REPLACING} THEN {CHOSEN} ELSE alt_state END")
_MAX_LIMIT = 500


def _record(row: sqlite3.Row) -> ThreadRecord:
    return ThreadRecord(**{k: row[k] for k in _COLUMNS.split(", ")})  # type: ignore[typeddict-item]


def _get(db: sqlite3.Connection, thread_id: str) -> ThreadRecord:
    row = fetch_one(db, f"SELECT {_COLUMNS} FROM threads WHERE id = ?", (thread_id,))
    if row is None:
        raise NotFoundError(f"Thread {thread_id} does not exist.")
    return _record(row)


def _set(db: sqlite3.Connection, thread_id: str, sql: str, params: tuple[Any, ...]) -> ThreadRecord:
    """Run ``UPDATE threads SET <sql> WHERE id = ?`` on an existing thread and return it."""
    _get(db, thread_id)
    db.execute(f"UPDATE threads SET {sql} WHERE id = ?", (*params, thread_id))
    return _get(db, thread_id)


def _clean_title(title: str | None) -> str | None:
    if title is None:
        return None
    if not isinstance(title, str):
        raise InvalidArgumentError("A thread title must be text.")
    title = " ".join(title.split())
    return title or None



# Among the most recently active threads only: the query stays bounded however long the history is.
_UNTITLED_WITH_REPLY = """
SELECT id FROM (SELECT id, title, updated_at FROM threads WHERE trashed_at IS NULL ORDER BY updated_at DESC LIMIT ?)
AS t WHERE (t.title IS NULL OR t.title = '')
  AND EXISTS (SELECT 1 FROM messages AS m WHERE m.thread_id = t.id AND m.role = 'assistant' AND m.status = 'complete')
ORDER BY t.updated_at DESC LIMIT ?
"""

class ThreadStore:
    """Threads: create, list, rename, archive, trash, fork, branch, stats, search and lineage."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def create(self, agent_id: str | None, title: str | None = None, user_id: str | None = None, *,
                     provider: str | None = None, model: str | None = None) -> ThreadRecord:
        """A new thread of an agent (talking to ``provider``/``model`` if given); a given title counts as the user's."""
        title = _clean_title(title)
        thread_id, ts = new_id("thr"), now()

        def insert(db: sqlite3.Connection) -> ThreadRecord:
            if agent_id is not None and db.execute("SELECT 1 FROM agents WHERE id = ?", (agent_id,)).fetchone() is None:
                raise NotFoundError(f"Agent {agent_id} does not exist.")
            db.execute("INSERT INTO threads(id, agent_id, user_id, title, title_source, provider, model, created_at, "
                       "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (thread_id, agent_id, user_id, title, "user" if title else None, provider, model, ts, ts))
            return _get(db, thread_id)

        return await write(self.conn, insert)

    async def get(self, id: str) -> ThreadRecord:
        """The thread with this id (NotFoundError otherwise)."""
        return await run(self.conn, _get, id)

    async def list(self, user_id: str | None = None, include_archived: bool = False, limit: int = 100,
                   offset: int = 0) -> list[ThreadRecord]:
        """Threads by latest activity, newest first; never trashed ones; archived ones only on request."""
        archived = "" if include_archived else " AND t.archived_at IS NULL"
        sql = (f"SELECT {_COLUMNS} FROM threads AS t WHERE {_VISIBLE}{archived} "
               "ORDER BY t.updated_at DESC, t.seq DESC LIMIT :lim OFFSET :off")
        return await run(self.conn, fetch_dicts, sql, {"uid": user_id, "lim": int(limit), "off": int(offset)})

    async def rename(self, id: str, title: str) -> ThreadRecord:
        """Give the thread a user title (auto titles never overwrite it); an empty title clears it."""
        title = _clean_title(title)
        return await write(self.conn, _set, id, "title = ?, title_source = ?", (title, "user" if title else None))

    async def set_auto_title(self, id: str, title: str) -> ThreadRecord:
        """Set a generated title, unless the user has named the thread."""
        title = _clean_title(title)
        return await write(self.conn, _set, id,
                           "title = CASE WHEN title_source = 'user' THEN title ELSE ? END, "
                           "title_source = CASE WHEN title_source = 'user' THEN title_source ELSE ? END",
                           (title, "auto" if title else None))

    async def set_summary(self, id: str, text: str | None) -> ThreadRecord:
        """Store the thread's summary."""
        return await write(self.conn, _set, id, "summary = ?", (text,))

    async def set_model(self, id: str, provider: str | None, model: str | None) -> ThreadRecord:
        """Remember the provider and model this thread talks to."""
        return await write(self.conn, _set, id, "provider = ?, model = ?", (provider, model))

    async def archive(self, id: str) -> ThreadRecord:
        """Hide the thread from the default list (it stays searchable)."""
        return await write(self.conn, _set, id, "archived_at = coalesce(archived_at, ?)", (now(),))

    async def unarchive(self, id: str) -> ThreadRecord:
        """Bring an archived thread back to the list."""
        return await write(self.conn, _set, id, "archived_at = NULL", ())

    async def list_archived(self, user_id: str | None = None) -> list[ThreadRecord]:
        """Archived threads (not trashed), latest activity first."""
        sql = (f"SELECT {_COLUMNS} FROM threads AS t WHERE {_VISIBLE} AND t.archived_at IS NOT NULL "
               "ORDER BY t.updated_at DESC, t.seq DESC")
        return [_record(r) for r in await run(self.conn, fetch_all, sql, {"uid": user_id})]

    async def trash(self, id: str) -> ThreadRecord:
        """Move the thread to the trash: out of list() and search() until restored or emptied."""
        return await write(self.conn, _set, id, "trashed_at = coalesce(trashed_at, ?)", (now(),))

    async def restore(self, id: str) -> ThreadRecord:
        """Take the thread out of the trash."""
        return await write(self.conn, _set, id, "trashed_at = NULL", ())

    async def list_trash(self, user_id: str | None = None) -> list[ThreadRecord]:
        """Trashed threads, most recently trashed first."""
        sql = (f"SELECT {_COLUMNS} FROM threads WHERE trashed_at IS NOT NULL "
               "AND (:uid IS NULL OR user_id = :uid) ORDER BY trashed_at DESC, seq DESC")
        return [_record(r) for r in await run(self.conn, fetch_all, sql, {"uid": user_id})]

    async def empty_trash(self, user_id: str | None = None) -> int:
        """Delete every trashed thread for good; returns how many."""

        def remove(db: sqlite3.Connection) -> int:
            ids = [r[0] for r in db.execute("SELECT id FROM threads WHERE trashed_at IS NOT NULL "
                                            "AND (:uid IS NULL OR user_id = :uid)", {"uid": user_id})]
            for thread_id in ids:
                _delete(db, thread_id)
            return len(ids)

        return await write(self.conn, remove)

    async def delete(self, id: str) -> None:
        """Delete the thread, its messages and its grants for good (its forks stay, unlinked)."""

        def remove(db: sqlite3.Connection) -> None:
            _get(db, id)
            _delete(db, id)

        await write(self.conn, remove)

    async def fork(self, id: str, title: str | None = None) -> ThreadRecord:
        """A new thread with all of this thread's messages (shared content), recording where it came from."""
        return await write(self.conn, _copy, id, None, _clean_title(title))

    async def branch(self, id: str, from_message_id: str, title: str | None = None) -> ThreadRecord:
        """A new thread with this thread's messages up to and including ``from_message_id``."""
        return await write(self.conn, _copy, id, from_message_id, _clean_title(title))

    async def untitled_with_reply(self, limit: int = 20, window: int = 200) -> list[str]:
        """Ids of the ``window`` most recently active threads that have a finished reply but no title."""
        rows = await run(self.conn, fetch_all, _UNTITLED_WITH_REPLY, (int(window), int(limit)))
        return [row[0] for row in rows]

    async def get_stats(self, id: str) -> dict[str, Any]:
        """Exactly ``{"message_count", "total_bytes", "forked_from"}`` (bytes of UTF-8 message text)."""

        def select(db: sqlite3.Connection) -> dict[str, Any]:
            thread = _get(db, id)
            count, size = db.execute(
                "SELECT count(*), coalesce(sum(c.bytes), 0) FROM messages AS m "
                "JOIN contents AS c ON c.id = m.content_id WHERE m.thread_id = ?", (id,)).fetchone()
            return {"message_count": count, "total_bytes": size, "forked_from": thread["forked_from"]}

        return await run(self.conn, select)

    async def lineage(self, id: str) -> dict[str, list[ThreadRecord]]:
        """``{"ancestors": parent first up to the root, "children": direct forks/branches, oldest first}``."""

        def select(db: sqlite3.Connection) -> dict[str, list[ThreadRecord]]:
            _get(db, id)
            ancestors = fetch_all(db, f"""
                WITH RECURSIVE up(id, depth) AS (
                  SELECT forked_from, 1 FROM threads WHERE id = ? AND forked_from IS NOT NULL
                  UNION ALL
                  SELECT t.forked_from, up.depth + 1 FROM threads AS t JOIN up ON t.id = up.id
                  WHERE t.forked_from IS NOT NULL AND up.depth < 10000)
                SELECT {_COLUMNS.replace('id,', 't.id,', 1)} FROM up JOIN threads AS t ON t.id = up.id
                ORDER BY up.depth""", (id,))
            children = fetch_all(db, f"SELECT {_COLUMNS} FROM threads WHERE forked_from = ? AND trashed_at IS NULL "
                                     "ORDER BY created_at, seq", (id,))
            return {"ancestors": [_record(r) for r in ancestors], "children": [_record(r) for r in children]}

        return await run(self.conn, select)

    async def origin(self, id: str) -> dict[str, Any] | None:
        """Where a fork or branch came from, for the chat header; None for an original or when its source is gone.

        ``{"kind": "fork"|"branch", "thread_id", "title", "trashed", "message_id", "at"}``: ``at`` is the number of
        the shown message in the source the copy was taken at (None when that message is gone).
        """

        def select(db: sqlite3.Connection) -> dict[str, Any] | None:
            thread = _get(db, id)
            if thread["forked_from"] is None:
                return None
            source = _get(db, thread["forked_from"])
            row = db.execute("SELECT position FROM messages WHERE id = ? AND thread_id = ?",
                             (thread["forked_from_message"], source["id"])).fetchone()
            at = None if row is None else db.execute(
                f"SELECT count(*) FROM messages AS m WHERE m.thread_id = ? AND m.position <= ? AND {VISIBLE}",
                (source["id"], row[0])).fetchone()[0]
            return {"kind": thread["fork_kind"], "thread_id": source["id"], "title": source["title"],
                    "trashed": source["trashed_at"] is not None, "message_id": thread["forked_from_message"], "at": at}

        return await run(self.conn, select)

    async def tree(self, user_id: str | None = None, include_archived: bool = False) -> list[TreeNode]:
        """Visible threads in drawing order: roots by latest activity, each followed by its forks (depth-first).

        Each node is a thread record plus ``parent_id`` (its fork parent when that parent is in the tree,
        else None) and ``depth`` (0 for roots). A thread whose parent is hidden is drawn as a root.
        """
        archived = "" if include_archived else " AND t.archived_at IS NULL"
        sql = (f"SELECT {_COLUMNS} FROM threads AS t WHERE {_VISIBLE}{archived} "
               "ORDER BY t.updated_at DESC, t.seq DESC")
        return tree_order(await run(self.conn, fetch_dicts, sql, {"uid": user_id}))

    async def tree_page(self, limit: int, user_id: str | None = None) -> list[TreeNode]:
        """The first ``limit`` nodes of ``tree()`` (active threads), read without listing every thread."""
        return await run(self.conn, tree_page, {"uid": user_id, "lim": int(limit)})

    async def search(self, query: str, user_id: str | None = None, limit: int = 20,
                     order: Literal["newest", "best"] = "newest", prefix_last: bool = False) -> list[SearchHit]:
        """Hits in thread titles and message text (see the module docstring); [] for an empty query.

        ``prefix_last``: the last word typed matches as a prefix (search as you type)."""
        if order not in ("newest", "best"):
            raise InvalidArgumentError('Search order must be "newest" or "best".')
        terms = parse_query(query, prefix_last=prefix_last)
        match = match_expression(terms)
        limit = max(0, min(int(limit), _MAX_LIMIT))
        if match is None or limit == 0:
            return []
        params = {"q": match, "uid": user_id, "lim": limit}

        def select(db: sqlite3.Connection) -> list[SearchHit]:
            titles = _title_hits(db, params, order)
            if order == "best":
                messages = _best_message_hits(db, params, terms)
                return (titles + messages)[:limit]
            messages = _newest_message_hits(db, params)
            return sorted(titles + messages, key=lambda h: h["created_at"], reverse=True)[:limit]

        return await run(self.conn, select)


def _delete(db: sqlite3.Connection, thread_id: str) -> None:
    """Delete one thread for good: its messages, the contents no other thread holds, and its grants."""
    db.execute("UPDATE threads SET forked_from = NULL, forked_from_message = NULL WHERE forked_from = ?",
               (thread_id,))
    released = released_by(db, "m.thread_id = ?", (thread_id,))
    db.execute("DELETE FROM messages WHERE thread_id = ?", (thread_id,))
    collect_garbage(db, released)
    db.execute("DELETE FROM grants WHERE resource_type = 'thread' AND resource_id = ?", (thread_id,))
    db.execute("DELETE FROM threads WHERE id = ?", (thread_id,))


def _copy(db: sqlite3.Connection, source_id: str, from_message_id: str | None, title: str | None) -> ThreadRecord:
    """Fork (all messages) or branch (up to a message) in the current transaction; content is shared.

    A branch also takes the other alternatives of the branched reply (``store.alternatives``).
    Without a title the copy is named after its source: "<title> (fork)", "<title> (branch at N)".
    """
    source = _get(db, source_id)
    slot, index = None, None
    if from_message_id is None:
        kind = "fork"
        row = db.execute(f"SELECT id, position FROM messages WHERE thread_id = ? AND alt_state != {OTHER} "
                         "ORDER BY position DESC LIMIT 1", (source_id,)).fetchone()
        from_message, upto = (row[0], row[1]) if row else (None, 0)
        last = db.execute("SELECT max(position) FROM messages WHERE thread_id = ?", (source_id,)).fetchone()[0]
        upto = max(upto, last or 0)
    else:
        kind = "branch"
        row = db.execute("SELECT thread_id, position, alt_slot, alt_index FROM messages WHERE id = ?",
                         (from_message_id,)).fetchone()
        if row is None or row[0] != source_id:
            raise InvalidArgumentError(f"Message {from_message_id} is not in thread {source_id}.")
        from_message, upto, slot, index = from_message_id, row[1], row[2], row[3]
    new_thread, ts = new_id("thr"), now()
    title_source = "user" if title else source["title_source"]
    if title is None:
        title = _default_title(db, source, kind, upto)
    db.execute(
        "INSERT INTO threads(id, agent_id, user_id, title, title_source, summary, provider, model, created_at, "
        "updated_at, forked_from, forked_from_message, fork_kind) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (new_thread, source["agent_id"], source["user_id"], title, title_source,
         source["summary"] if kind == "fork" else None,
         source["provider"], source["model"], ts, ts, source_id, from_message, kind))
    db.execute("INSERT INTO thread_links(child, parent) VALUES (?, ?)", (new_thread, source_id))
    params = {"new": new_thread, "src": source_id, "upto": upto, "slot": slot, "idx": index}
    wanted = ("thread_id = :src AND (position <= :upto OR "
              f"(alt_slot = :slot AND alt_index != :idx AND alt_state = {OTHER}))")
    top = db.execute(f"SELECT max(position) FROM messages WHERE {wanted}", params).fetchone()[0] or 0
    head, start = new_id_block("msg", top + 1)
    db.execute(
        f"INSERT INTO messages(id, thread_id, position, {_MESSAGE_COPY_COLUMNS}) "
        f"SELECT printf('%s%010x', :head, :start + position), :new, position, {_COPIED_COLUMNS} "
        f"FROM messages WHERE {wanted} ORDER BY position", {**params, "head": head, "start": start})
    # whoever could use the source thread can use its copy
    db.execute("INSERT OR IGNORE INTO grants(user_id, resource_type, resource_id, role, created_at) "
               "SELECT user_id, resource_type, ?, role, ? FROM grants "
               "WHERE resource_type = 'thread' AND resource_id = ?", (new_thread, ts, source_id))
    return _get(db, new_thread)


def _default_title(db: sqlite3.Connection, source: ThreadRecord, kind: str, upto: int) -> str | None:
    """"<title> (fork)" or "<title> (branch at N)", N counting the shown messages; None for an untitled source."""
    if source["title"] is None:
        return None
    if kind == "fork":
        return f"{source['title']} (fork)"
    shown = db.execute(f"SELECT count(*) FROM messages AS m WHERE m.thread_id = ? AND m.position <= ? AND {VISIBLE}",
                       (source["id"], upto)).fetchone()[0]
    return f"{source['title']} (branch at {shown})"


def _title_hits(db: sqlite3.Connection, params: dict[str, Any], order: str) -> list[SearchHit]:
    by = "rank" if order == "best" else "t.updated_at DESC"
    rows = fetch_all(db, f"""
        SELECT t.id, t.title, t.updated_at, highlight(threads_fts, 0, '[[', ']]') AS snip, rank
        FROM threads_fts JOIN threads AS t ON t.seq = threads_fts.rowid
        WHERE threads_fts MATCH :q AND {_VISIBLE} ORDER BY {by} LIMIT :lim""", params)
    return [SearchHit(thread_id=r["id"], thread_title=r["title"], message_id=None, role=None, snippet=r["snip"],
                      created_at=r["updated_at"], score=-r["rank"] if order == "best" else 0.0, other_threads=0)
            for r in rows]


_CANDIDATES = """
    SELECT contents_fts.rowid, c.origin_thread, c.origin_position, {extra}
    FROM contents_fts JOIN contents AS c ON c.id = contents_fts.rowid
    WHERE contents_fts MATCH :q AND contents_fts.rowid < :below
    ORDER BY contents_fts.rowid DESC LIMIT :batch"""
_SNIPPET = f"snippet(contents_fts, 0, '[[', ']]', '…', {SNIPPET_TOKENS})"


class _Visibility:
    """Which threads a search may show (memoized; all loaded up front for a big window), and content holders."""

    def __init__(self, db: sqlite3.Connection, user_id: str | None, eager: bool) -> None:
        self.db, self.user_id, self.lineage = db, user_id, Lineage(db)
        self._shown: dict[str, bool] = {}
        if eager:
            for thread_id, trashed, owner in db.execute("SELECT id, trashed_at, user_id FROM threads"):
                self._shown[thread_id] = self._allowed(trashed, owner)

    def _allowed(self, trashed: float | None, owner: str | None) -> bool:
        return trashed is None and (self.user_id is None or owner == self.user_id)

    def shown(self, thread_id: str) -> bool:
        """Whether the search may show this thread."""
        known = self._shown.get(thread_id)
        if known is None:
            row = self.db.execute("SELECT trashed_at, user_id FROM threads WHERE id = ?", (thread_id,)).fetchone()
            known = self._shown[thread_id] = row is not None and self._allowed(row[0], row[1])
        return known

    def holders(self, content_id: int, origin: str, position: int) -> list[dict[str, Any]]:
        """The shown messages holding the content."""
        return [h for h in holders(self.db, self.lineage, content_id, origin, position)
                if self._allowed(h["trashed_at"], h["user_id"])]

    def is_shown(self, content_id: int, origin: str, position: int) -> bool:
        """Whether a shown thread holds the content (no query when its origin was never forked)."""
        if len(self.lineage.family(origin)) == 1:
            # an existing content is always held, and only its origin thread can hold it
            return self.shown(origin)
        return bool(self.holders(content_id, origin, position))


def _scan(db: sqlite3.Connection, params: dict[str, Any], extra: str, want: int,
          seen: _Visibility) -> list[tuple[int, str, int, Any]]:
    """The newest matching contents held by a shown thread: up to ``want`` (content id, origin, position, extra)."""
    found: list[tuple[int, str, int, Any]] = []
    below, batch = 1 << 62, max(32, want * 2)
    sql = _CANDIDATES.format(extra=extra)
    while len(found) < want:
        rows = db.execute(sql, {"q": params["q"], "below": below, "batch": batch}).fetchall()
        for row in rows:
            if seen.is_shown(row[0], row[1], row[2]):
                found.append(row)
                if len(found) == want:
                    break
        if len(rows) < batch:
            break
        below, batch = rows[-1][0], min(batch * 4, 4096)
    return found


def _hit(snippet: str, score: float, held: list[dict[str, Any]]) -> SearchHit:
    """One hit per content: the newest shown thread holding it, and how many others do."""
    newest = max(held, key=lambda h: (h["born"], h["thread_seq"]))
    return SearchHit(thread_id=newest["thread_id"], thread_title=newest["title"], message_id=newest["id"],
                     role=newest["role"], snippet=snippet, created_at=newest["created_at"], score=score,
                     other_threads=len({h["thread_id"] for h in held}) - 1)


def _newest_message_hits(db: sqlite3.Connection, params: dict[str, Any]) -> list[SearchHit]:
    seen = _Visibility(db, params["uid"], eager=False)
    hits = []
    for content_id, origin, position, snippet in _scan(db, params, _SNIPPET, params["lim"], seen):
        held = seen.holders(content_id, origin, position)
        if held:
            hits.append(_hit(snippet, 0.0, held))
    return hits


def _best_message_hits(db: sqlite3.Connection, params: dict[str, Any], terms: list[Any]) -> list[SearchHit]:
    seen = _Visibility(db, params["uid"], eager=True)
    window = _scan(db, params, "c.text", BEST_WINDOW, seen)
    where = {content_id: (origin, position) for content_id, origin, position, _ in window}
    ranked = BestScorer(db, "contents_fts", terms).rank([(row[0], row[3]) for row in window])[:params["lim"]]
    snippets = _snippets(db, params["q"], [content_id for _, content_id in ranked], any(t.prefix for t in terms))
    hits = []
    for score, content_id in ranked:
        held = seen.holders(content_id, *where[content_id])
        if held:
            hits.append(_hit(snippets.get(content_id, ""), score, held))
    return hits


def _snippets(db: sqlite3.Connection, match: str, content_ids: list[int], has_prefix: bool) -> dict[int, str]:
    """Snippets of some matching contents."""
    if not content_ids:
        return {}
    if has_prefix:
        # each rowid lookup would expand the prefix again: one pass over the window's rowid range instead
        marks = ",".join("?" * len(content_ids))
        return dict(db.execute(f"SELECT rowid, {_SNIPPET} FROM contents_fts WHERE contents_fts MATCH ? "
                               f"AND rowid >= ? AND +rowid IN ({marks})", (match, min(content_ids), *content_ids)))
    sql = f"SELECT rowid, {_SNIPPET} FROM contents_fts WHERE contents_fts MATCH ? AND rowid = ?"
    return dict(row for cid in content_ids for row in db.execute(sql, (match, cid)))
