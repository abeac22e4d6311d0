"""Pilot helpers for the panel tests: a host app that opens a real database, and polling with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.app import App, ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Static

FIXED_TIME = "12:00:00"


def fixed_time(ts: float) -> str:
    """A clock that never changes, for snapshots."""
    return FIXED_TIME


async def wait_until(pilot: Any, predicate: Callable[[], Any], timeout: float = 15.0, what: str = "") -> None:
    """Let the app run until ``predicate()`` is true; fail after ``timeout`` seconds (generous for loaded CI).

    The one polling helper of the UI tests. A predicate that raises (it may look at
    widgets not mounted yet) counts as false.
    """
    deadline = time.monotonic() + timeout
    while not _holds(predicate):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await pilot.pause(0.02)
    await pilot.pause()


def _holds(predicate: Callable[[], Any]) -> bool:
    try:
        return bool(predicate())
    except Exception:  # noqa: BLE001 - not mounted yet, or not there yet: keep waiting
        return False


class PanelHost(App[None]):
    """A tiny app that opens ``db_path`` and mounts one panel, as the real app's right-hand slot would.

    ``make(app)`` builds the widget once ``app.stores`` are open; ``screen=True`` pushes it as a screen instead.
    """

    CSS = "Screen { layout: horizontal; } #left { width: 1fr; } #slot { width: 60; }"

    def __init__(self, db_path: Path | str, make: Callable[["PanelHost"], Any], *, screen: bool = False,
                 user_id: str = "local", theme: str | None = None) -> None:
        super().__init__()
        self.db_path = db_path
        self._make = make
        self._as_screen = screen
        self.conn: Any = None
        self.stores: Any = None
        self.user_id = user_id
        self.current_thread_id: str | None = None
        self.hidden = False
        self.panel: Any = None
        self.events: list[Any] = []
        self._theme_name = theme

    def compose(self) -> ComposeResult:
        yield Static("chat", id="left")
        yield Vertical(id="slot")

    async def on_mount(self) -> None:
        from tui_agents.store import connect

        if self._theme_name:
            from tui_agents.tui.themes import register_themes

            register_themes(self)
            self.theme = self._theme_name
        from tui_agents.session import Stores

        self.conn = await connect(self.db_path)
        self.stores = Stores.on(self.conn)
        self.panel = self._make(self)
        if self._as_screen:
            await self.push_screen(self.panel)
        else:
            await self.query_one("#slot").mount(self.panel)

    async def on_unmount(self) -> None:
        if self.conn is not None:
            await self.conn.close()

    async def hide_panel(self) -> None:
        self.hidden = True
        await self.query_one("#slot").remove_children()

    async def _on_message(self, message: Any) -> None:
        self.events.append(message)  # every message that reached the app, for assertions
        await super()._on_message(message)
