"""A database from before reply writers, alternatives and drafts is upgraded in place and keeps working."""

from __future__ import annotations

import sqlite3
import time

from tui_agents.store import DraftStore, MessageStore, ThreadStore, connect
from tui_agents.store.migrations import MIGRATIONS, latest_version

STEP = "reply_writers_alternatives_drafts"


def _old_database(path) -> None:
    """A file migrated up to just before STEP, holding a thread with a finished and an unfinished reply."""
    before = [name for name, _ in MIGRATIONS].index(STEP)
    db = sqlite3.connect(path)
    for number, (_, fn) in enumerate(MIGRATIONS[:before], start=1):
        fn(db)
        db.execute(f"PRAGMA user_version = {number}")
    old, fresh = time.time() - 3600, time.time()
    db.execute("INSERT INTO threads(id, title, created_at, updated_at) VALUES ('thr_old', 'Old', ?, ?)", (old, old))
    for position, (role, text, status, updated) in enumerate(
            [("user", "Hello", "complete", old), ("assistant", "Hi the", "streaming", old),
             ("user", "Again", "complete", fresh), ("assistant", "Still go", "streaming", fresh)], start=1):
        cid = db.execute("INSERT INTO contents(origin_thread, origin_position, chars, bytes, text) "
                         "VALUES ('thr_old', ?, ?, ?, ?)", (position, len(text), len(text), text)).lastrowid
        db.execute("INSERT INTO messages(id, thread_id, position, role, content_id, status, created_at, updated_at) "
                   "VALUES (?, 'thr_old', ?, ?, ?, ?, ?, ?)",
                   (f"msg_old{position}", position, role, cid, status, updated, updated))
    db.commit()
    db.close()


async def test_an_old_database_is_upgraded_and_its_unowned_replies_use_the_idle_rule(tmp_path):
    path = tmp_path / "old.db"
    _old_database(path)
    conn = await connect(path)
    try:
        with sqlite3.connect(path) as raw:
            assert raw.execute("PRAGMA user_version").fetchone()[0] == latest_version()
        messages = MessageStore(conn)
        assert [m["content"] for m in await messages.list("thr_old")] == ["Hello", "Hi the", "Again", "Still go"]
        # no writer was recorded before the upgrade: only the reply idle for long is taken as cut off
        assert await messages.recover_unfinished() == ["msg_old2"]
        begun = await messages.begin_alternative("thr_old")
        await messages.add("thr_old", "assistant", "Still going, done.")
        await messages.end_alternative(begun)
        assert [m["content"] for m in await messages.list("thr_old")][-1] == "Still going, done."
        assert (await ThreadStore(conn).fork("thr_old"))["title"] == "Old (fork)"
        await DraftStore(conn).set("thr_old", "draft")
        assert await DraftStore(conn).get("thr_old") == "draft"
    finally:
        await conn.close()
