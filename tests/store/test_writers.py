"""Start-up recovery marks a streaming reply only when the process writing it is gone, whatever its age."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import psutil

from tui_agents.store.messages import APP_CLOSED
from tui_agents.store.process import current_writer, writer_alive


def _token(pid: int, start: float | None = None) -> str:
    """A writer token as ``store.process`` makes it: host, pid, start time (the real one unless given)."""
    start = psutil.Process(pid).create_time() if start is None else start
    return f"{socket.gethostname()}|{pid}|{start:.2f}"


async def _streaming(conn, messages, thread_id: str, writer: str | None):
    await messages.add(thread_id, "user", "Tell me a story")
    reply = await messages.add(thread_id, "assistant", "Once upon", status="streaming")
    await conn.execute("UPDATE messages SET writer = ? WHERE id = ?", (writer, reply["id"]))
    return reply


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


async def test_our_own_streaming_reply_is_never_marked(conn, messages, thread):
    await messages.add(thread["id"], "user", "Hi")
    reply = await messages.add(thread["id"], "assistant", "Hel", status="streaming")
    assert writer_alive(current_writer()) is True
    assert await messages.recover_unfinished(older_than=0) == []
    assert (await messages.get(reply["id"]))["status"] == "streaming"


async def test_a_reply_whose_process_ended_is_marked_at_once_with_the_reason(conn, messages, thread):
    reply = await _streaming(conn, messages, thread["id"], _token(_dead_pid(), 1.0))
    assert await messages.recover_unfinished() == [reply["id"]]  # seconds old, not 120
    got = await messages.get(reply["id"])
    assert (got["status"], got["content"]) == ("interrupted", "Once upon")
    assert got["meta"] == {"interrupted_reason": APP_CLOSED}
    assert await messages.recover_unfinished() == []


async def test_a_reused_pid_does_not_keep_a_dead_writers_reply_alive(conn, messages, thread):
    # this process's pid with another start time: the pid was reused, the writer is gone
    reply = await _streaming(conn, messages, thread["id"], _token(os.getpid(), 12345.0))
    assert await messages.recover_unfinished() == [reply["id"]]


async def test_another_live_process_keeps_its_reply(conn, messages, thread):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        reply = await _streaming(conn, messages, thread["id"], _token(other.pid))
        assert await messages.recover_unfinished(older_than=0) == []
        assert (await messages.get(reply["id"]))["status"] == "streaming"
    finally:
        other.kill()
        other.wait()
    assert await messages.recover_unfinished() == [reply["id"]]


async def test_a_reply_meta_keeps_its_other_keys(conn, messages, thread):
    await messages.add(thread["id"], "user", "Hi")
    reply = await messages.add(thread["id"], "assistant", "Hel", status="streaming", meta={"note": "kept"})
    await conn.execute("UPDATE messages SET writer = ? WHERE id = ?", (_token(_dead_pid(), 1.0), reply["id"]))
    await messages.recover_unfinished()
    assert (await messages.get(reply["id"]))["meta"] == {"note": "kept", "interrupted_reason": APP_CLOSED}


async def test_an_unknown_writer_falls_back_to_the_idle_time(conn, messages, thread):
    # written by an older version (no writer) or on another host: only idleness can tell
    legacy = await _streaming(conn, messages, thread["id"], None)
    remote = await _streaming(conn, messages, thread["id"], "other-host|1234|99.00")
    assert await messages.recover_unfinished() == []
    assert sorted(await messages.recover_unfinished(older_than=0)) == sorted([legacy["id"], remote["id"]])


async def test_a_row_set_back_to_streaming_is_claimed_by_the_updater(conn, messages, thread):
    await messages.add(thread["id"], "user", "Hi")
    reply = await messages.add(thread["id"], "assistant", "Hel", status="interrupted")
    await conn.execute("UPDATE messages SET writer = ? WHERE id = ?", (_token(_dead_pid(), 1.0), reply["id"]))
    await messages.update(reply["id"], status="streaming")
    assert await messages.recover_unfinished(older_than=0) == []
