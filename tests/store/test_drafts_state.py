"""Unsent drafts per thread and the last thread opened survive a restart (a new connection to the same file)."""

from __future__ import annotations

import pytest

from tui_agents.errors import InvalidArgumentError, NotFoundError
from tui_agents.store import DraftStore, StateStore, ThreadStore, connect


async def test_drafts_are_per_thread_and_survive_a_restart(db_path, conn, threads, agent):
    one = await threads.create(agent["id"])
    two = await threads.create(agent["id"])
    drafts = DraftStore(conn)
    await drafts.set(one["id"], "half a thought")
    await drafts.set(two["id"], "another\nwith a newline")
    await drafts.set(None, "for a new chat")
    await drafts.set(one["id"], "half a thought, longer")
    await conn.close()

    reopened = await connect(db_path)
    try:
        drafts = DraftStore(reopened)
        assert await drafts.get(one["id"]) == "half a thought, longer"
        assert await drafts.get(two["id"]) == "another\nwith a newline"
        assert await drafts.get(None) == "for a new chat"
        assert await drafts.all() == {one["id"]: "half a thought, longer", two["id"]: "another\nwith a newline",
                                      None: "for a new chat"}
        await drafts.clear(two["id"])
        await drafts.set(None, "   ")  # a blank draft is no draft
        assert await drafts.all() == {one["id"]: "half a thought, longer"}
        await ThreadStore(reopened).delete(one["id"])
        assert await drafts.all() == {}
    finally:
        await reopened.close()


async def test_a_draft_needs_a_real_thread_and_text(conn):
    drafts = DraftStore(conn)
    with pytest.raises(NotFoundError):
        await drafts.set("thr_missing", "text")
    with pytest.raises(InvalidArgumentError, match="must be text"):
        await drafts.set(None, 42)  # type: ignore[arg-type]
    assert await drafts.get("thr_missing") == ""


async def test_the_last_thread_opened_is_remembered_per_user_across_a_restart(db_path, conn, threads, agent):
    mine = await threads.create(agent["id"], user_id="u1")
    theirs = await threads.create(agent["id"], user_id="u2")
    state = StateStore(conn)
    assert await state.last_thread("u1") is None
    await state.set_last_thread(mine["id"], "u1")
    await state.set_last_thread(theirs["id"], "u2")
    await state.set("theme", {"name": "aiagents-dark"})
    await conn.close()

    reopened = await connect(db_path)
    try:
        state = StateStore(reopened)
        assert await state.last_thread("u1") == mine["id"]
        assert await state.last_thread("u2") == theirs["id"]
        assert await state.get("theme") == {"name": "aiagents-dark"}
        assert await state.get("missing", "fallback") == "fallback"
        await ThreadStore(reopened).trash(mine["id"])
        assert await state.last_thread("u1") is None  # a trashed thread is not reopened
        await ThreadStore(reopened).restore(mine["id"])
        assert await state.last_thread("u1") == mine["id"]
        await ThreadStore(reopened).delete(theirs["id"])
        assert await state.last_thread("u2") is None
        await state.set_last_thread(None, "u1")  # the user was in a new chat
        assert await state.last_thread("u1") is None
        with pytest.raises(NotFoundError):
            await state.set_last_thread("thr_missing")
        with pytest.raises(InvalidArgumentError, match="JSON"):
            await state.set("bad", object())
    finally:
        await reopened.close()
