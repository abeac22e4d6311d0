"""The right-hand panels and the full screens, wired into the app: ``PanelController`` and the ``Panel`` protocol.

``PanelController(app)`` (``app.panels``) handles:

- the tool-call inspector (ctrl+t, and "Inspect" in a message's menu) and the
  memory panel (ctrl+g) in the right-hand panel slot; both follow the open
  thread (the app's reactive ``current_thread_id``) and receive the runner's
  events of a turn (``Panel.follow`` / ``Panel.receive``);
- the agents (f3) and documents (f4) screens; the agent chosen with "Use for
  new chats" is the one new threads start from, remembered across restarts;
- the memory strategy picked in the memory panel, saved in the settings and
  used from the next turn on;
- export of the open thread as Markdown or JSON (f8), import of a thread file
  (ctrl+l), and a theme picker (f9, also Textual's "Theme" palette command)
  whose choice is saved in the settings.

Their keys and palette entries are declared once in ``actions.py`` (data, so
the panel modules still load only when first opened).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # pragma: no cover
    from textual.timer import Timer

    from ..events import TurnEvent
    from .app import AiAgentsApp

__all__ = ["Panel", "PanelController", "STATE_FILE", "export_file_name"]

SHIPPED_THEMES = ("aiagents-dark", "aiagents-light", "aiagents-high-contrast")
STATE_FILE = "state.json"
"""Beside ``config.toml``: what the app remembers that the settings file has no field for (the new-chat agent)."""

SAVE_DELAY = 0.5  # seconds: typing "n=20" in the memory panel saves the settings once, not per key
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def export_file_name(title: str | None, thread_id: str, fmt: str) -> str:
    """A file name for an exported thread: a slug of its title and its id."""
    slug = _UNSAFE_NAME.sub("-", (title or "").strip().lower()).strip("-.")[:40]
    return f"{slug}-{thread_id}.{fmt}" if slug else f"{thread_id}.{fmt}"


def _read_state(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@runtime_checkable
class Panel(Protocol):
    """What a right-hand panel does: follow the open thread, and show the events of a running turn."""

    is_attached: bool

    def follow(self, thread_id: str | None, new_chat_agent_id: str | None) -> None:
        """Show ``thread_id`` (None: a new chat, which starts from ``new_chat_agent_id``)."""

    def receive(self, event: TurnEvent) -> None:
        """A runner event of a turn in any thread (a panel ignores other threads')."""


class PanelController:
    """The inspector, memory panel, agents and documents screens, export, import and themes of the app."""

    clock: Callable[[float], str] | None = None
    """How the inspector shows a time of day (None: ``HH:MM:SS``); screenshots fix it."""

    def __init__(self, app: AiAgentsApp) -> None:
        self.app = app
        self._panel_counter: Any = None
        self._config_timer: Timer | None = None

    async def restore_state(self) -> None:
        """After the database opened: new chats start from the agent chosen last time (if it still exists)."""
        session = self.app.session
        agent_id = (await asyncio.to_thread(_read_state, self._state_path())).get("new_chat_agent_id")
        if not agent_id or session is None:
            return
        from ..errors import NotFoundError

        try:
            await session.agents.get(agent_id)
        except NotFoundError:
            return
        session.agent_id = agent_id

    def _state_path(self) -> Path:
        from ..config import config_path

        return (self.app.config_path or config_path()).with_name(STATE_FILE)

    def _new_chat_agent_id(self) -> str | None:
        session = self.app.session
        return session.agent_id if session is not None else None

    def _token_counter(self) -> Any:
        if self._panel_counter is None:
            from ..memory.tokens import TokenCounter

            self._panel_counter = TokenCounter()  # the encoding is shared, so this loads at most once
        return self._panel_counter

    async def toggle_inspector(self) -> None:
        """Show or hide the tool-call inspector of the open thread."""
        from .screens.inspector import ToolInspector

        if isinstance(self.app.screen_main.panel, ToolInspector):
            await self.app.screen_main.hide_panel()
            return
        await self.open_inspector(self.app.current_thread_id)

    async def open_inspector(self, thread_id: str | None, message_id: str | None = None) -> None:
        """Show the inspector at a thread, or at one message's turn."""
        from .screens.inspector import ToolInspector
        from .widgets.virtual_table import VirtualTable

        await self.app.wait_ready()
        panel = self.app.screen_main.panel
        if isinstance(panel, ToolInspector):
            await panel.show(thread_id, message_id)
        else:
            panel = ToolInspector(self.app.session.messages, thread_id, message_id, format_time=self.clock)
            await self.app.screen_main.show_panel(panel)
        panel.query_one(VirtualTable).focus()

    def inspect_message(self, message_id: str) -> None:
        """Open the tool-call inspector at a message's turn (the message menu's "Inspect")."""
        self.app.run_worker(self.open_inspector(self.app.current_thread_id, message_id),
                        group="panel", exclusive=True, exit_on_error=False)

    async def toggle_memory(self) -> None:
        """Show or hide the memory panel of the open thread."""
        from .widgets.virtual_table import VirtualTable
        from .screens.memory_panel import MemoryPanel

        if isinstance(self.app.screen_main.panel, MemoryPanel):
            await self.app.screen_main.hide_panel()
            return
        await self.app.wait_ready()
        memory = self.app.config.memory
        panel = MemoryPanel(self.app.session.stores, self.app.user_id, self.app.current_thread_id,
                            strategy=memory.strategy, params=memory.params, agent_id=self._new_chat_agent_id(),
                            provider=self.app.provider_name, model=self.app.model_name,
                            counter=self._token_counter(), window_of=self.app.session.context_window)
        await self.app.screen_main.show_panel(panel)
        panel.query_one("#facts", VirtualTable).focus()

    def strategy_changed(self, strategy: str, params: dict[str, int]) -> None:
        """Use the panel's strategy from the next turn on, and save it in the settings."""
        if self.app.session is not None:
            self.app.session.set_memory(strategy, dict(params))
        # model_copy keeps the other memory settings (approve_model_facts)
        self.app.config.memory = self.app.config.memory.model_copy(update={"strategy": strategy,
                                                                           "params": dict(params)})
        self._save_config_soon()

    def _save_config_soon(self) -> None:
        if self._config_timer is not None:
            self._config_timer.stop()
        self._config_timer = self.app.set_timer(SAVE_DELAY, self._save_config_now)

    async def _save_config_now(self) -> None:
        from ..errors import ConfigError

        self._config_timer = None
        try:
            await asyncio.to_thread(self.app.save_config)
        except ConfigError as exc:  # the file was hand-broken meanwhile: it is kept, and says why
            self.app.notify(str(exc), severity="error", markup=False)
        except OSError as exc:
            self.app.notify(f"Could not save the settings: {exc.strerror or exc}.", severity="error", markup=False)

    async def agents(self) -> None:
        """Open the agents screen."""
        from .screens.agents import AgentsScreen

        await self.app.wait_ready()
        default = await self.app.session.default_agent_id()
        await self.app.push_screen(AgentsScreen(self.app.session.agents, default, default,
                                                tool_servers=self.app.session.tool_servers()), self._agents_closed)

    def _agents_closed(self, _result: Any = None) -> None:
        from .screens.memory_panel import MemoryPanel

        if self.app.session is not None:
            self.app.session.agents_changed()  # prompts and tools may have changed
        panel = self.app.screen_main.panel
        if isinstance(panel, MemoryPanel):
            panel.agent_id = self._new_chat_agent_id()
            panel.refresh_context()

    async def agent_selected(self, agent_id: str) -> None:
        """New chats start from the chosen agent, now and after a restart."""
        from ..files import write_text_atomic

        session = self.app.session
        if session is None:
            return
        session.agent_id = agent_id
        path = self._state_path()

        def save() -> None:
            write_text_atomic(path, json.dumps({**_read_state(path), "new_chat_agent_id": agent_id}, indent=2))

        try:
            await asyncio.to_thread(save)
        except OSError as exc:
            self.app.notify(f"Could not remember the agent: {exc.strerror or exc}.",
                        severity="warning", markup=False)

    async def documents(self) -> None:
        """Open the documents screen."""
        from .screens.documents import DocumentsScreen

        await self.app.wait_ready()
        await self.app.push_screen(DocumentsScreen(self.app.session.stores.documents))

    def export_thread(self, fmt: str | None = None) -> None:
        """Export the open thread (``md`` or ``json``; None asks which)."""
        from .screens.dialogs import MenuScreen

        thread_id = self.app.current_thread_id
        if thread_id is None:
            self.app.notify("Open a thread to export it.", markup=False)
            return
        if fmt is not None:
            self.app.run_worker(partial(self._ask_export_path, thread_id, fmt), exit_on_error=False)
            return

        async def chosen(choice: str | None) -> None:
            if choice:
                await self._ask_export_path(thread_id, choice)

        self.app.push_screen(MenuScreen("Export thread as", [("md", "Markdown (.md)"), ("json", "JSON (.json)")]),
                         chosen)

    async def _ask_export_path(self, thread_id: str, fmt: str) -> None:
        from ..config import data_dir
        from .screens.dialogs import TextPromptScreen

        thread = await self.app.session.threads.get(thread_id)
        default = data_dir() / "exports" / export_file_name(thread.get("title"), thread_id, fmt)
        label = "Markdown" if fmt == "md" else "JSON"

        async def chosen(path: str | None) -> None:
            if path and path.strip():
                await self.export_to(thread_id, fmt, Path(path.strip()).expanduser())

        self.app.push_screen(TextPromptScreen(f"Export as {label} to (enter saves, escape cancels)", str(default)),
                         chosen)

    async def export_to(self, thread_id: str, fmt: str, path: Path) -> Path | None:
        """Write the thread to ``path`` and say where; None if it could not be written."""
        from ..errors import AgentError

        try:
            path = await self.app.session.export_file(thread_id, fmt, path)
        except AgentError as exc:
            self.app.notify(str(exc), title="Not exported", severity="error", markup=False)
            return None
        except OSError as exc:
            self.app.notify(f"Could not write {path}: {exc.strerror or exc}.", title="Not exported",
                        severity="error", markup=False)
            return None
        self.app.notify(f"Exported the thread to {path}", title="Exported", timeout=10, markup=False)
        return path

    def ask_import(self) -> None:
        """Ask for a file and import the threads in it."""
        from .screens.dialogs import TextPromptScreen

        async def chosen(path: str | None) -> None:
            if path and path.strip():
                await self.import_from(Path(path.strip()).expanduser())

        self.app.push_screen(TextPromptScreen("Import our JSON export or a ChatGPT conversations.json from"), chosen)

    async def import_from(self, path: Path) -> list[str]:
        """Import a file in one transaction; a malformed file changes nothing and says why."""
        from ..errors import AgentError

        await self.app.wait_ready()
        try:
            report = await self.app.session.import_file(path)
        except AgentError as exc:
            self.app.notify(str(exc), title="Nothing imported", severity="error", timeout=15, markup=False)
            return []
        await self.app.screen_main.threads.reload_threads()
        notes = "".join(f"\n{note}" for note in report.notes)
        self.app.notify(f"Imported {len(report.thread_ids)} thread(s) from {path}.{notes}", title="Imported",
                    markup=False)
        return list(report.thread_ids)

    def pick_theme(self) -> None:
        """Choose a colour theme (ours first, previewed live); the choice is saved in the settings."""
        from .screens.dialogs import ThemePickerScreen

        names = sorted(self.app.available_themes)
        ours = [n for n in SHIPPED_THEMES if n in names]

        def chosen(name: str | None) -> None:
            if name:
                self.set_theme(name)

        self.app.push_screen(ThemePickerScreen(ours + [n for n in names if n not in ours], self.app.theme), chosen)

    def set_theme(self, name: str) -> None:
        """Switch to theme ``name`` and save it in the settings."""
        if name not in self.app.available_themes:
            self.app.notify(f"Unknown theme {name!r}.", severity="warning", markup=False)
            return
        self.app.theme = name
        self.app.config.theme = name
        self._save_config_soon()

    def panel_event(self, event: TurnEvent) -> None:
        """Hand a runner event of a turn to the open panel (each panel keeps to its own thread)."""
        panel = self.app.screen_main.panel
        if isinstance(panel, Panel) and panel.is_attached:
            panel.receive(event)

    def follow(self, thread_id: str | None) -> None:
        """The open thread changed: the open panel follows it."""
        panel = self.app.screen_main.panel if self.app.is_running else None
        if isinstance(panel, Panel) and panel.is_attached:
            panel.follow(thread_id, self._new_chat_agent_id())

