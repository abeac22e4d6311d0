"""Start-up with a long history, in a real terminal (tmux): keys typed at any moment are kept.

The database holds more threads than the sidebar draws at once, and the last thread of the previous
session is an old one, far below the first page. Keys are typed from the moment the app is launched,
through the first frame, the thread list and the reopening of the last thread; every one of them must
end up in the composer, after the reopened thread's saved draft. The sidebar shows the reopened
thread's row under its cursor, newer threads above it, and stays put while the user types; a message
sent there moves the thread to the top of the list. Skipped when tmux is missing, except under CI=true.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest

from tests.tui.test_tmux_daily import TMUX, Terminal, terminal  # noqa: F401  (the fixture)
from tui_agents.store import Auth, DraftStore, MessageStore, StateStore, ThreadStore, connect
from tui_agents.tui.widgets.sidebar import SIDEBAR_PAGE

pytestmark = pytest.mark.timeout(120)

THREADS = SIDEBAR_PAGE + 50
REOPENED = 7  # an old thread, far below the first page
TITLE = "the reopened thread"  # titled: the title jobs of the newest untitled threads never rename it
LABEL = 31  # the columns of a sidebar row's label (the scroll bar and the border excluded)
_SGR = re.compile(r"\x1b\[([0-9;]*)m|([^\x1b])")


async def _history(db: Path) -> None:
    conn = await connect(db)
    threads, messages, auth = ThreadStore(conn), MessageStore(conn), Auth(conn)
    for i in range(THREADS):
        thread = await threads.create(None, title=TITLE if i == REOPENED else None, user_id="local")
        await auth.assign_role("local", "owner", "thread", thread["id"])  # as the app's new threads are
        await messages.add(thread["id"], "user", f"question number {i} about something")
        await messages.add(thread["id"], "assistant", f"answer number {i} ends here")
        if i == REOPENED:
            reopened = thread["id"]
    await StateStore(conn).set_last_thread(reopened, "local")
    await DraftStore(conn).set(reopened, "saved draft")
    await conn.close()


def _rows(lines: list[str]) -> list[tuple[str, str]]:
    """Sidebar rows of ``capture-pane -e`` lines: each one's text and the background its first cell is drawn on.

    tmux writes a style only where it changes, so the background carries over from line to line.
    """
    rows, background = [], ""
    for line in lines:
        text, first = [], None
        for match in _SGR.finditer(line):
            if match.group(1) is not None:
                codes = match.group(1).split(";")
                if codes in ([""], ["0"]) or "49" in codes:
                    background = ""
                if "48" in codes:
                    background = ";".join(codes[codes.index("48"):][:5])
            elif len(text) < LABEL:
                text.append(match.group(2))
                first = background if first is None else first
        rows.append(("".join(text).rstrip(), first or ""))
    return rows


def _sidebar(terminal: Terminal) -> list[tuple[str, bool]]:
    """The thread rows shown in the sidebar (under its search box and mode line): text, and whether under the cursor."""
    lines = terminal.tmux("capture-pane", "-p", "-e", "-t", "app", check=False).stdout.splitlines()
    rows = _rows(lines[:-1])[5:]  # title bar, search box (3), mode line; the status bar
    backgrounds = [background for _, background in rows]
    usual = max(set(backgrounds), key=backgrounds.count)
    return [(text, background != usual) for text, background in rows]


def _wait_sidebar(terminal: Terminal, predicate, what: str, timeout: float = 30.0) -> list[tuple[str, bool]]:
    deadline = time.monotonic() + timeout
    rows: list[tuple[str, bool]] = []
    while time.monotonic() < deadline:
        rows = _sidebar(terminal)
        if predicate(rows):
            return rows
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; the sidebar was:\n" + "\n".join(map(str, rows)))


def _reopened_row_under_cursor(rows: list[tuple[str, bool]]) -> bool:
    return [text for text, cursor in rows if cursor] == [TITLE]


def test_keys_typed_from_launch_on_all_reach_the_composer(terminal: Terminal, tmp_path: Path) -> None:
    asyncio.run(_history(tmp_path / "db.sqlite"))
    terminal.start()
    typed = "keys typed from the very start"
    t0 = time.monotonic()
    terminal.type(typed)  # one key every ~20 ms from launch: before, during and after the list is drawn
    screen = terminal.wait_for(lambda s: f"answer number {REOPENED} ends here" in s and typed in s,
                               "the reopened thread and every typed key")
    lines = screen.splitlines()
    draft_line = next(i for i, line in enumerate(lines) if "saved draft" in line)
    assert typed in lines[draft_line + 1]  # after the draft, on the next line, in the order typed
    # its row is on screen under the cursor, the next newer threads above it in order (their first words)
    rows = _wait_sidebar(terminal, lambda rows: _reopened_row_under_cursor(rows) and
                         rows[[t for t, _ in rows].index(TITLE) - 1][0].startswith(f"question number {REOPENED + 1} "),
                         "the reopened thread's row under the cursor, its newer neighbours labelled")
    assert time.monotonic() - t0 < 30
    at = [text for text, _ in rows].index(TITLE)
    assert at > 0 and all(text.startswith(f"question number {REOPENED + at - i} ") for i, (text, _) in enumerate(rows[:at]))

    terminal.type("!")  # the composer still has the focus, and the sidebar does not move under the user's typing
    terminal.wait_text(f"{typed}!")
    assert [text for text, _ in _sidebar(terminal)][:at + 1] == [text for text, _ in rows][:at + 1]

    terminal.press("Enter")  # sent in the reopened thread: it is the newest now, at the top, still under the cursor
    terminal.wait_text(f"echo: saved draft {typed}!")
    _wait_sidebar(terminal, lambda rows: _reopened_row_under_cursor(rows) and rows[0][0] == TITLE,
                  "the reopened thread at the top of the list")
