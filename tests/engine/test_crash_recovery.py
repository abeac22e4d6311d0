"""A process killed mid-reply loses nothing: the partial reply is found and marked interrupted."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.fakes.fixtures import Reply
from tui_agents.store import MessageStore, ThreadStore, connect

CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from tui_agents import AgentRunner, get_memory_strategy, get_provider
    from tui_agents.store import AgentStore, ThreadStore, connect

    async def main(db, base_url):
        conn = await connect(db)
        agent = await AgentStore(conn).create("crash", "You are helpful.")
        thread = await ThreadStore(conn).create(agent["id"])
        print(thread["id"], flush=True)
        provider = get_provider("ollama", base_url=base_url, model="m")
        runner = AgentRunner(conn, None, provider, get_memory_strategy("last_n", n=10), flush_interval=0.05)
        await runner.run(thread["id"], "local", "Tell me a long story")

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


def _reply_row(db: Path, thread_id: str) -> tuple[str, str] | None:
    with sqlite3.connect(db, timeout=10) as raw:
        row = raw.execute(
            "SELECT m.status, c.text FROM messages m JOIN contents c ON c.id = m.content_id "
            "WHERE m.thread_id = ? AND m.role = 'assistant'",
            (thread_id,),
        ).fetchone()
    return row


async def test_a_reply_cut_by_sigkill_is_recovered_as_interrupted(tmp_path: Path, fake_llm) -> None:
    db = tmp_path / "app.db"
    story = "Once upon a time " * 200
    fake_llm.script(Reply(text=story, chunk_chars=10, delay=0.02))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), fake_llm.base_url],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        thread_id = child.stdout.readline().strip()
        deadline = time.monotonic() + 30
        row = None
        while time.monotonic() < deadline:
            row = _reply_row(db, thread_id)
            if row and row[0] == "streaming" and len(row[1]) > 100:
                break
            time.sleep(0.05)
        assert row and row[0] == "streaming", f"the reply never started streaming: {row}"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        child.stdout.close()

    conn = await connect(db)
    try:
        messages = MessageStore(conn)
        fresh = await messages.recover_unfinished(older_than=60)
        assert fresh == []  # a reply touched moments ago could belong to a live process
        recovered = await messages.recover_unfinished(older_than=0)
        history = await messages.list(thread_id)
        assert [m["role"] for m in history] == ["user", "assistant"]
        user, reply = history
        assert (user["content"], user["status"]) == ("Tell me a long story", "complete")
        assert recovered == [reply["id"]]
        assert reply["status"] == "interrupted"
        assert len(reply["content"]) >= 100 and story.startswith(reply["content"])
        assert (await ThreadStore(conn).get(thread_id))["id"] == thread_id
    finally:
        await conn.close()
