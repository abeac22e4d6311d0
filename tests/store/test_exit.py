"""A script that never closes its agent or connection still exits when its main coroutine ends."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXIT_BOUND_S = 20.0  # generous on a shared 2-core machine; before the fix the process never exited


def run_script(tmp_path: Path, body: str) -> tuple[subprocess.CompletedProcess[str], float]:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(body))
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return done, time.monotonic() - started


def test_a_script_whose_chat_raises_and_never_closes_the_agent_exits(tmp_path):
    done, elapsed = run_script(tmp_path, """
        import asyncio, socket
        from tui_agents import Agent

        async def main():
            # A port bound but not listening: the connection is refused at once.
            with socket.socket() as hole:
                hole.bind(("127.0.0.1", 0))
                port = hole.getsockname()[1]
                agent = Agent(provider="ollama", base_url=f"http://127.0.0.1:{port}", model="m")
                try:
                    await agent.chat("hello")
                except Exception as exc:
                    print("raised", type(exc).__name__, flush=True)
            # no await agent.aclose()

        asyncio.run(main())
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "raised ProviderConnectionError"
    assert elapsed < EXIT_BOUND_S


def test_a_connection_left_open_is_closed_at_exit_with_its_writes_kept(tmp_path):
    done, elapsed = run_script(tmp_path, """
        import asyncio
        from tui_agents.store import AgentStore, connect

        async def main():
            conn = await connect("left-open.db")
            await AgentStore(conn).create(name="kept", system_prompt="p")
            raise SystemExit(3)  # leaves without closing

        asyncio.run(main())
    """)
    assert done.returncode == 3, done.stderr
    assert elapsed < EXIT_BOUND_S
    assert "Traceback" not in done.stderr
    db = sqlite3.connect(tmp_path / "left-open.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert [r[0] for r in db.execute("SELECT name FROM agents")] == ["kept"]
    finally:
        db.close()
    # Closed cleanly at exit: SQLite folded the WAL back and removed it.
    assert not (tmp_path / "left-open.db-wal").exists()
