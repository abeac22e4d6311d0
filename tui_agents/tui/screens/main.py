"""The main screen: title bar, thread sidebar, chat pane, composer, a right-hand panel slot and the status bar."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Static

from ..widgets.chat_pane import ChatPane
from ..widgets.composer import Composer
from ..widgets.sidebar import Sidebar
from ..widgets.status_bar import StatusBar

__all__ = ["MainScreen", "TitleBar"]


class TitleBar(Static):
    """The top line: the app's name and the open thread's title."""

    def set_thread_title(self, title: str | None) -> None:
        text = Text("aiagents-tui", style="bold")
        if title:
            text.append("  ·  ")
            text.append(title)
        self.update(text)


class MainScreen(Screen):
    """Sidebar | chat (+ composer) | optional right panel, over a status bar."""

    # The default screen's CSS_PATH is not loaded by Textual, so its stylesheet comes in as default CSS.
    DEFAULT_CSS = (Path(__file__).with_name("main.tcss")).read_text(encoding="utf-8")

    BINDINGS = [
        Binding("alt+up", "chat_cursor(-1)", "Previous message", id="message.previous", show=False),
        Binding("alt+down", "chat_cursor(1)", "Next message", id="message.next", show=False),
    ]

    def __init__(self, format_time) -> None:
        super().__init__()
        self.format_time = format_time

    def compose(self) -> ComposeResult:
        title = TitleBar(id="title-bar", markup=False)
        title.set_thread_title(None)
        yield title
        with Horizontal(id="body"):
            yield Sidebar(id="sidebar")
            with Vertical(id="center"):
                yield ChatPane(self.format_time, id="chat")
                yield Composer(id="composer")
            yield Vertical(id="right-panel")
        yield StatusBar(id="status")

    def on_mount(self) -> None:
        self.query_one(Composer).focus()

    def action_chat_cursor(self, delta: int) -> None:
        self.query_one(ChatPane).action_cursor(delta)
