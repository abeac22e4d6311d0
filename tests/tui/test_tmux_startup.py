"""Start-up with a long history, in a real terminal (tmux): keys typed at any moment are kept.

The database holds more threads than the sidebar draws at once. Keys are typed from the moment the
app is launched, through the first frame, the thread list and the reopening of the last thread;
every one of them must end up in the composer, after the reopened thread's saved draft. The list
shows the newest thread first and the last thread reopens at its end. Skipped when tmux is missing,
except under CI=true.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.tui.test_tmux_daily import TMUX, Terminal, terminal  # noqa: F401  (the fixture)
from tui_agents.store import DraftStore, MessageStore, StateStore, ThreadStore, connect
from tui_agents.tui.widgets.sidebar import SIDEBAR_PAGE

pytestmark = pytest.mark.timeout(120)

THREADS = SIDEBAR_PAGE + 50
REOPENED = 7  # an old thread, far below the first page


async def _history(db: Path) -> None:
    conn = await connect(db)
    threads, messages = ThreadStore(conn), MessageStore(conn)
    for i in range(THREADS):
        thread = await threads.create(None, user_id="local")
        await messages.add(thread["id"], "user", f"question number {i} about something")
        await messages.add(thread["id"], "assistant", f"answer number {i} ends here")
        if i == REOPENED:
            reopened = thread["id"]
    await StateStore(conn).set_last_thread(reopened, "local")
    await DraftStore(conn).set(reopened, "saved draft")
    await conn.close()


def test_keys_typed_from_launch_on_all_reach_the_composer(terminal: Terminal, tmp_path: Path) -> None:
    asyncio.run(_history(tmp_path / "db.sqlite"))
    terminal.start()
    typed = "keys typed from the very start"
    t0 = time.monotonic()
    terminal.type(typed)  # one key every ~20 ms from launch: before, during and after the list is drawn
    screen = terminal.wait_for(lambda s: f"question number {THREADS - 1}" in s, "the newest thread in the list")
    assert time.monotonic() - t0 < 30
    screen = terminal.wait_for(lambda s: f"answer number {REOPENED} ends here" in s and typed in s,
                               "the reopened thread and every typed key")
    lines = screen.splitlines()
    draft_line = next(i for i, line in enumerate(lines) if "saved draft" in line)
    assert typed in lines[draft_line + 1]  # after the draft, on the next line, in the order typed
    terminal.type("!")  # the composer still has the focus
    terminal.wait_text(f"{typed}!")
