"""Thinking, Anthropic thinking blocks and images saved with messages; images stored once and shared."""

from __future__ import annotations

import hashlib
import sqlite3

from tui_agents.images import load_image
from tui_agents.store import connect
from tui_agents.store.images import ImageStore
from tui_agents.store.migrations import MIGRATIONS, latest_version

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
BLOCKS = [{"type": "thinking", "thinking": "Plan.", "signature": "sig=="},
          {"type": "redacted_thinking", "data": "ENC=="}]


async def _thread(agents, threads):
    agent = await agents.create("a", "prompt")
    return (await threads.create(agent["id"]))["id"]


async def test_thinking_and_blocks_are_saved_apart_from_the_text(agents, threads, messages):
    thread_id = await _thread(agents, threads)
    added = await messages.add(thread_id, "assistant", "The answer.", thinking="Plan.", thinking_blocks=BLOCKS)
    got = await messages.get(added["id"])
    assert (got["content"], got["thinking"], got["thinking_blocks"]) == ("The answer.", "Plan.", BLOCKS)
    updated = await messages.update(added["id"], thinking="Plan, longer.")
    assert updated["thinking"] == "Plan, longer." and updated["content"] == "The answer."


async def test_thinking_is_not_part_of_the_searchable_text_or_its_size(agents, threads, messages):
    thread_id = await _thread(agents, threads)
    await messages.add(thread_id, "assistant", "short", thinking="zebra " * 1000)
    assert await threads.search("zebra") == []
    assert (await threads.get_stats(thread_id))["total_bytes"] == len("short")


async def test_an_image_is_stored_once_and_shared_by_forks(conn, agents, threads, messages):
    thread_id = await _thread(agents, threads)
    image = load_image(PNG, name="cat.png")
    first = await messages.add(thread_id, "user", "What is this?", images=[image])
    await messages.add(thread_id, "user", "And this again?", images=[image])
    fork = await threads.fork(thread_id)
    store = ImageStore(conn)
    assert await store.stats() == {"count": 1, "bytes": len(PNG)}
    [copy] = [m for m in await messages.list(fork["id"]) if m["content"] == "What is this?"]
    assert copy["images"] == first["images"] == [
        {"sha256": hashlib.sha256(PNG).hexdigest(), "media_type": "image/png", "name": "cat.png", "bytes": len(PNG),
         "width": None, "height": None}]  # not a decodable PNG: no pixel size
    assert (await store.get(copy["images"][0]["sha256"])).data == PNG


async def test_an_image_goes_when_the_last_message_showing_it_goes(conn, agents, threads, messages):
    thread_id = await _thread(agents, threads)
    await messages.add(thread_id, "user", "look", images=[load_image(PNG)])
    fork = await threads.fork(thread_id)
    store = ImageStore(conn)
    await threads.delete(thread_id)
    assert (await store.stats())["count"] == 1  # the fork still shows it
    await threads.delete(fork["id"])
    assert await store.stats() == {"count": 0, "bytes": 0}


async def test_editing_a_forked_message_keeps_its_images_and_thinking(agents, threads, messages):
    thread_id = await _thread(agents, threads)
    original = await messages.add(thread_id, "assistant", "v1", thinking="why", images=[load_image(PNG)])
    fork = await threads.fork(thread_id)
    [copy] = await messages.list(fork["id"])
    edited = await messages.update(copy["id"], content="v2")
    assert (edited["content"], edited["thinking"], len(edited["images"])) == ("v2", "why", 1)
    rethought = await messages.update(copy["id"], thinking="because")
    assert rethought["thinking"] == "because"
    assert (await messages.get(original["id"]))["thinking"] == "why"  # the source keeps its own


async def test_a_database_of_the_previous_version_gains_the_columns(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    for _name, fn in MIGRATIONS[:-1]:
        fn(db)
    db.execute(f"PRAGMA user_version = {latest_version() - 1}")
    db.execute("INSERT INTO agents(id, name, created_at, updated_at) VALUES ('agt_1', 'a', 0, 0)")
    db.execute("INSERT INTO threads(id, agent_id, created_at, updated_at) VALUES ('thr_1', 'agt_1', 0, 0)")
    db.execute("INSERT INTO contents(origin_thread, origin_position, chars, bytes, text) VALUES ('thr_1', 1, 2, 2, 'hi')")
    db.execute("INSERT INTO messages(id, thread_id, position, role, content_id, status, created_at, updated_at) "
               "VALUES ('msg_1', 'thr_1', 1, 'user', 1, 'complete', 0, 0)")
    db.commit()
    db.close()
    conn = await connect(path)
    try:
        from tui_agents.store import MessageStore

        got = await MessageStore(conn).get("msg_1")
        assert (got["content"], got["thinking"], got["thinking_blocks"], got["images"]) == ("hi", None, [], [])
    finally:
        await conn.close()
