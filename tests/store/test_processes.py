"""Several processes on one file: concurrent writers lose nothing, a killed writer loses nothing committed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tui_agents.store import MessageStore, ThreadStore, connect

ROOT = Path(__file__).resolve().parents[2]

WRITER = """
import asyncio, os, sys, time
from tui_agents.store import MessageStore, connect

async def main(db, thread_id, count, go, report):
    conn = await connect(db)
    messages = MessageStore(conn)
    deadline = time.monotonic() + 60
    while not os.path.exists(go) and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
    with open(report, "a", buffering=1) as out:
        for i in range(count):
            msg = await messages.add(thread_id, "user", f"writer {os.getpid()} message {i}")
            out.write(msg["id"] + "\\n")  # reported only after the commit returned
    await conn.close()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]))
"""


def _spawn(tmp_path: Path, db: Path, thread_id: str, count: int, name: str) -> tuple[subprocess.Popen, Path]:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    report = tmp_path / f"{name}.ids"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(script), str(db), thread_id, str(count), str(tmp_path / "go"),
                             str(report)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return proc, report


async def _new_thread(db: Path) -> str:
    conn = await connect(db)
    thread = await ThreadStore(conn).create(agent_id=None)
    await conn.close()
    return thread["id"]


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


@pytest.mark.slow
async def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    db = tmp_path / "shared.db"
    thread_id = await _new_thread(db)
    procs = [_spawn(tmp_path, db, thread_id, 200, f"w{i}") for i in range(2)]
    (tmp_path / "go").touch()
    for proc, _ in procs:
        _, err = await asyncio.to_thread(proc.communicate, timeout=150)
        assert proc.returncode == 0, err.decode()
        assert b"locked" not in err
    reported = [i for _, report in procs for i in _lines(report)]
    assert len(reported) == 400
    conn = await connect(db)
    try:
        stored = await MessageStore(conn).list(thread_id)
    finally:
        await conn.close()
    assert sorted(m["id"] for m in stored) == sorted(reported)
    assert [m["position"] for m in stored] == list(range(1, 401))


@pytest.mark.slow
async def test_sigkilled_writer_leaves_every_committed_row(tmp_path):
    db = tmp_path / "killed.db"
    thread_id = await _new_thread(db)
    (tmp_path / "go").touch()
    proc, report = _spawn(tmp_path, db, thread_id, 100_000, "victim")
    deadline = time.monotonic() + 120
    while len(_lines(report)) < 50:
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "the writer never got going"
        await asyncio.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    await asyncio.to_thread(proc.wait, 30)
    proc.stdout.close()
    proc.stderr.close()
    committed = _lines(report)
    conn = await connect(db)
    try:
        assert (await (await conn.execute("PRAGMA integrity_check")).fetchone())[0] == "ok"
        messages = MessageStore(conn)
        stored = {m["id"] for m in await messages.list(thread_id)}
        assert set(committed) <= stored
        assert len(stored) >= len(committed) >= 50
        more = await messages.add(thread_id, "user", "after the crash")
        assert more["position"] == len(stored) + 1
    finally:
        await conn.close()
