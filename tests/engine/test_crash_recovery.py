"""A process killed mid-reply loses nothing, and the next start says so at once; live processes never collide."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.fakes.fixtures import Reply
from tui_agents import AgentRunner, get_memory_strategy, get_provider
from tui_agents.store import AgentStore, MessageStore, ThreadStore, connect
from tui_agents.store.messages import APP_CLOSED

ROOT = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent(
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

# What the app does at start: recover, and say which replies it marked.
STARTER = textwrap.dedent(
    """
    import asyncio, json, sys
    from tui_agents.store import MessageStore, connect

    async def main(db):
        conn = await connect(db)
        print(json.dumps(await MessageStore(conn).recover_unfinished(older_than=0)), flush=True)
        await conn.close()

    asyncio.run(main(sys.argv[1]))
    """
)


def _python(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", *args], env=env, cwd=ROOT, text=True, **kwargs)


def _reply_row(db: Path, thread_id: str) -> tuple[str, str] | None:
    with sqlite3.connect(db, timeout=10) as raw:
        return raw.execute(
            "SELECT m.status, c.text FROM messages m JOIN contents c ON c.id = m.content_id "
            "WHERE m.thread_id = ? AND m.role = 'assistant'", (thread_id,)).fetchone()


def _wait_streaming(db: Path, thread_id: str, child: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + 30
    row = None
    while time.monotonic() < deadline:
        assert child is None or child.poll() is None, "the writer process ended early"
        row = _reply_row(db, thread_id)
        if row and row[0] == "streaming" and len(row[1]) > 100:
            return
        time.sleep(0.05)
    raise AssertionError(f"the reply never started streaming: {row}")


def _start_writer(db: Path, base_url: str) -> tuple[subprocess.Popen, str]:
    child = _python(WRITER, str(db), base_url, stdout=subprocess.PIPE)
    return child, child.stdout.readline().strip()


def _kill(child: subprocess.Popen) -> None:
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    child.stdout.close()


async def test_a_reply_cut_by_sigkill_is_interrupted_at_the_next_start_whatever_its_age(tmp_path, fake_llm) -> None:
    db = tmp_path / "app.db"
    story = "Once upon a time " * 200
    fake_llm.script(Reply(text=story, chunk_chars=10, delay=0.02))
    child, thread_id = _start_writer(db, fake_llm.base_url)
    try:
        _wait_streaming(db, thread_id, child)
    finally:
        _kill(child)

    started = time.monotonic()
    conn = await connect(db)  # reopened at once: the reply is seconds old, far under any age rule
    try:
        messages = MessageStore(conn)
        recovered = await messages.recover_unfinished()
        assert time.monotonic() - started < 120
        user, reply = await messages.list(thread_id)
        assert (user["content"], user["status"]) == ("Tell me a long story", "complete")
        assert recovered == [reply["id"]]
        assert reply["status"] == "interrupted"
        assert reply["meta"] == {"interrupted_reason": APP_CLOSED}
        assert len(reply["content"]) >= 100 and story.startswith(reply["content"])
        assert (await ThreadStore(conn).get(thread_id))["id"] == thread_id
    finally:
        await conn.close()


async def test_two_live_processes_never_mark_each_others_streaming_replies(tmp_path, fake_llm) -> None:
    db = tmp_path / "shared.db"
    slow = "word " * 2000
    fake_llm.script(Reply(text=slow, chunk_chars=10, delay=0.05), Reply(text=slow, chunk_chars=10, delay=0.05))
    child, child_thread = _start_writer(db, fake_llm.base_url)
    conn = await connect(db)
    provider = get_provider("ollama", base_url=fake_llm.base_url, model="m")
    ours: asyncio.Task | None = None
    try:
        await asyncio.to_thread(_wait_streaming, db, child_thread, child)
        agent = await AgentStore(conn).create("here", "You are helpful.")
        our_thread = (await ThreadStore(conn).create(agent["id"]))["id"]
        runner = AgentRunner(conn, None, provider, get_memory_strategy("last_n", n=10), flush_interval=0.05)
        ours = asyncio.create_task(runner.run(our_thread, "local", "Tell me another"))
        await asyncio.to_thread(_wait_streaming, db, our_thread)

        # this process starting up again beside the other: leaves the other's reply alone
        messages = MessageStore(conn)
        assert await messages.recover_unfinished(older_than=0) == []
        # a third process starting up: leaves both live replies alone
        starter = _python(STARTER, str(db), stdout=subprocess.PIPE)
        out, _ = await asyncio.to_thread(starter.communicate, timeout=60)
        assert json.loads(out) == []
        assert _reply_row(db, child_thread)[0] == "streaming"
        assert _reply_row(db, our_thread)[0] == "streaming"

        _kill(child)  # now the other process is gone: only its reply is marked, ours streams on
        child_reply = (await messages.list(child_thread))[-1]
        assert await messages.recover_unfinished(older_than=0) == [child_reply["id"]]
        assert _reply_row(db, our_thread)[0] == "streaming"
    finally:
        if child.poll() is None:
            _kill(child)
        if ours is not None:
            ours.cancel()
            await asyncio.gather(ours, return_exceptions=True)
        await provider.aclose()
        await conn.close()
