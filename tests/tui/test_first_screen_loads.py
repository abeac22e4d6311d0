"""What the first screen loads: the chat screen's widgets, not its workflows, the store or the engine.

The workflows (send, threads, panels, drafts, tools) load at their first use, right after the first frame; a
first launch (no database file yet) does not load the store to find there is no thread list to read.
(Its speed is measured in ``benchmarks/bench_first_frame.py``.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_LOADED_AFTER = """
import json, sys
from tui_agents.tui.app import AiAgentsApp
app = AiAgentsApp(db_path=sys.argv[1])
assert app.first_page.future.result(timeout=10) is None
print(json.dumps(sorted(name for name, module in sys.modules.items() if module is not None)))
"""

LATER = ("tui_agents.tui.turns", "tui_agents.tui.threads", "tui_agents.tui.panels", "tui_agents.tui.drafts",
         "tui_agents.tui.background", "tui_agents.tui.tool_access", "tui_agents.tui.local_models",
         "tui_agents.tui.widgets.message", "tui_agents.store.threads", "tui_agents.session", "tui_agents.config",
         "pydantic", "sqlite3")


def test_the_first_screen_loads_no_workflow_and_a_first_launch_no_store(tmp_path):
    db = tmp_path / "none-yet.sqlite"
    out = subprocess.run([sys.executable, "-c", _LOADED_AFTER, str(db)], capture_output=True, text=True,
                         timeout=60, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, check=True).stdout
    loaded = set(json.loads(out))
    assert "tui_agents.tui.screens.main" in loaded
    assert [m for m in LATER if m in loaded] == []
    assert not db.exists()


_PAGE_READ = """
import json, sys
from tui_agents.tui.app import AiAgentsApp
app = AiAgentsApp(db_path=sys.argv[1])
nodes, labels = app.first_page.future.result(timeout=10)
print(json.dumps([len(nodes), sorted(name for name, module in sys.modules.items() if module is not None)]))
"""


def test_the_first_page_is_read_without_the_store(tmp_path):
    """With a history, the first page is read for the first frame, with sqlite3 alone (no aiosqlite, no store)."""
    import asyncio

    from tui_agents.store import ThreadStore, connect

    async def history() -> None:
        conn = await connect(tmp_path / "db.sqlite")
        for _ in range(3):
            await ThreadStore(conn).create(None, title="a title", user_id="local")
        await conn.close()

    asyncio.run(history())
    out = subprocess.run([sys.executable, "-c", _PAGE_READ, str(tmp_path / "db.sqlite")], capture_output=True,
                         text=True, timeout=60, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                         check=True).stdout
    rows, loaded = json.loads(out)
    assert rows == 3
    assert [m for m in LATER + ("aiosqlite",) if m in loaded and m != "sqlite3"] == []


async def test_the_workflows_load_at_first_use(tmp_path):
    from tui_agents.tui.app import AiAgentsApp
    from tui_agents.tui.threads import ThreadController
    from tui_agents.tui.turns import TurnController

    app = AiAgentsApp(db_path=tmp_path / "db.sqlite", background_jobs=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.wait_ready()
        await pilot.pause()
        screen = app.screen_main
        assert isinstance(screen.threads, ThreadController) and screen.threads is screen.threads
        assert isinstance(screen.turns, TurnController) and screen.turns.threads is screen.threads
        assert app.drafts is app.drafts and app.panels.app is app
