"""The panels and screens, wired into the app: keys, palette entries and the glue code.

``PanelsMixin`` is a base class of ``AiAgentsApp`` (before ``App``). It adds:

- the tool-call inspector (ctrl+t, and "Inspect" in a message's menu) and the
  memory panel (ctrl+g) in the right-hand panel slot; both follow the open
  thread, and the runner's events of that thread reach them while a turn runs
  (``app.panel_event(event)``);
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
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from textual.timer import Timer

    from .app import AiAgentsApp as _AppBase  # what the mixin may use of the app, for type checkers
else:
    _AppBase = object

__all__ = ["PanelsMixin", "STATE_FILE", "export_file_name"]

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


class PanelsMixin(_AppBase):
    """Panel, screen, export, import and theme actions of ``AiAgentsApp``."""

    clock: Callable[[float], str] | None = None
    """How the inspector shows a time of day (None: ``HH:MM:SS``); screenshots fix it."""

    _panel_counter: Any = None
    _config_timer: Timer | None = None

    # ---- the open thread (a property, so open panels follow it without hooks in the app)

    @property
    def current_thread_id(self) -> str | None:
        """The thread in the chat pane (None for a new chat)."""
        return self.__dict__.get("_current_thread_id")

    @current_thread_id.setter
    def current_thread_id(self, thread_id: str | None) -> None:
        old = self.__dict__.get("_current_thread_id")
        self.__dict__["_current_thread_id"] = thread_id
        if thread_id != old and self.__dict__.get("_panel") is not None:
            self._panel_follow(thread_id)

    def _panel_follow(self, thread_id: str | None) -> None:
        from .screens.inspector import ToolInspector
        from .screens.memory_panel import MemoryPanel

        panel = self.panel
        if isinstance(panel, ToolInspector):

            async def follow() -> None:
                if panel.is_attached:  # it may have been closed meanwhile
                    await panel.show(thread_id)

            self.call_later(follow)
        elif isinstance(panel, MemoryPanel):
            panel.agent_id = self._new_chat_agent_id()
            panel.set_thread(thread_id)

    def panel_event(self, event: Any) -> None:
        """Show a runner event of a turn in the open panel (the panels keep to their own thread)."""
        panel = self.__dict__.get("_panel")
        if panel is None or not panel.is_attached:
            return
        from ..events import TurnFailed, TurnFinished
        from .screens.inspector import ToolInspector
        from .screens.memory_panel import MemoryPanel

        if isinstance(panel, ToolInspector):
            panel.apply_event(event)
        elif isinstance(panel, MemoryPanel) and isinstance(event, (TurnFinished, TurnFailed)):
            if event.thread_id == panel.thread_id:
                panel.reload_facts()  # the remember tool may have added one
                panel.refresh_context()

    # ---- start-up

    async def restore_panel_state(self) -> None:
        """After the database opened: new chats start from the agent chosen last time (if it still exists)."""
        session = self.session
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

        return (self.config_path or config_path()).with_name(STATE_FILE)

    def _new_chat_agent_id(self) -> str | None:
        session = self.session
        return session.agent_id if session is not None else None

    def _token_counter(self) -> Any:
        if self._panel_counter is None:
            from ..memory.tokens import TokenCounter

            self._panel_counter = TokenCounter()  # the encoding is shared, so this loads at most once
        return self._panel_counter

    # ---- the right-hand panels

    async def action_toggle_inspector(self) -> None:
        """Show or hide the tool-call inspector of the open thread."""
        from .screens.inspector import ToolInspector

        if isinstance(self.panel, ToolInspector):
            await self.hide_panel()
            return
        await self.open_inspector(self.current_thread_id)

    async def open_inspector(self, thread_id: str | None, message_id: str | None = None) -> None:
        """Show the inspector at a thread, or at one message's turn."""
        from .screens.inspector import ToolInspector
        from .widgets.virtual_table import VirtualTable

        await self.wait_ready()
        panel = self.panel
        if isinstance(panel, ToolInspector):
            await panel.show(thread_id, message_id)
        else:
            panel = ToolInspector(self.session.messages, thread_id, message_id, format_time=self.clock)
            await self.show_panel(panel)
        panel.query_one(VirtualTable).focus()

    def action_inspect_message(self, message_id: str) -> None:
        """Open the tool-call inspector at a message's turn (the message menu's "Inspect")."""
        self.run_worker(self.open_inspector(self.current_thread_id, message_id),
                        group="panel", exclusive=True, exit_on_error=False)

    async def action_toggle_memory_panel(self) -> None:
        """Show or hide the memory panel of the open thread."""
        from .widgets.virtual_table import VirtualTable
        from .screens.memory_panel import MemoryPanel

        if isinstance(self.panel, MemoryPanel):
            await self.hide_panel()
            return
        await self.wait_ready()
        memory = self.config.memory
        panel = MemoryPanel(self.session.stores, self.user_id, self.current_thread_id,
                            strategy=memory.strategy, params=memory.params, agent_id=self._new_chat_agent_id(),
                            provider=self.provider_name, model=self.model_name,
                            counter=self._token_counter())
        await self.show_panel(panel)
        panel.query_one("#facts", VirtualTable).focus()

    def on_memory_panel_strategy_changed(self, event: Any) -> None:
        """Use the panel's strategy from the next turn on, and save it in the settings."""
        from ..config import MemoryConfig

        if self.session is not None:
            self.session.set_memory(event.strategy, dict(event.params))
        self.config.memory = MemoryConfig(strategy=event.strategy, params=dict(event.params))
        self._save_config_soon()

    def _save_config_soon(self) -> None:
        if self._config_timer is not None:
            self._config_timer.stop()
        self._config_timer = self.set_timer(SAVE_DELAY, self._save_config_now)

    async def _save_config_now(self) -> None:
        self._config_timer = None
        try:
            await asyncio.to_thread(self.save_config)
        except OSError as exc:
            self.notify(f"Could not save the settings: {exc.strerror or exc}.", severity="error", markup=False)

    # ---- full screens

    async def action_agents(self) -> None:
        """Open the agents screen."""
        from .screens.agents import AgentsScreen

        await self.wait_ready()
        default = await self.session.default_agent_id()
        await self.push_screen(AgentsScreen(self.session.agents, default, default), self._agents_closed)

    def _agents_closed(self, _result: Any = None) -> None:
        from .screens.memory_panel import MemoryPanel

        if self.session is not None:
            self.session.agents_changed()  # prompts and tools may have changed
        panel = self.panel
        if isinstance(panel, MemoryPanel):
            panel.agent_id = self._new_chat_agent_id()
            panel.refresh_context()

    async def on_agent_selected(self, event: Any) -> None:
        """New chats start from the chosen agent, now and after a restart."""
        from ..files import write_text_atomic

        session = self.session
        if session is None:
            return
        session.agent_id = event.agent_id
        path = self._state_path()

        def save() -> None:
            write_text_atomic(path, json.dumps({**_read_state(path), "new_chat_agent_id": event.agent_id}, indent=2))

        try:
            await asyncio.to_thread(save)
        except OSError as exc:
            self.notify(f"Could not remember the agent: {exc.strerror or exc}.",
                        severity="warning", markup=False)

    async def action_documents(self) -> None:
        """Open the documents screen."""
        from .screens.documents import DocumentsScreen

        await self.wait_ready()
        await self.push_screen(DocumentsScreen(self.session.stores.documents))

    # ---- export and import

    def action_export_thread(self, fmt: str | None = None) -> None:
        """Export the open thread (``md`` or ``json``; None asks which)."""
        from .screens.dialogs import MenuScreen

        thread_id = self.current_thread_id
        if thread_id is None:
            self.notify("Open a thread to export it.", markup=False)
            return
        if fmt is not None:
            self.run_worker(self._ask_export_path(thread_id, fmt), exit_on_error=False)
            return

        async def chosen(choice: str | None) -> None:
            if choice:
                await self._ask_export_path(thread_id, choice)

        self.push_screen(MenuScreen("Export thread as", [("md", "Markdown (.md)"), ("json", "JSON (.json)")]),
                         chosen)

    async def _ask_export_path(self, thread_id: str, fmt: str) -> None:
        from ..config import data_dir
        from .screens.dialogs import TextPromptScreen

        thread = await self.session.threads.get(thread_id)
        default = data_dir() / "exports" / export_file_name(thread.get("title"), thread_id, fmt)
        label = "Markdown" if fmt == "md" else "JSON"

        async def chosen(path: str | None) -> None:
            if path and path.strip():
                await self.export_to(thread_id, fmt, Path(path.strip()).expanduser())

        self.push_screen(TextPromptScreen(f"Export as {label} to (enter saves, escape cancels)", str(default)),
                         chosen)

    async def export_to(self, thread_id: str, fmt: str, path: Path) -> Path | None:
        """Write the thread to ``path`` and say where; None if it could not be written."""
        from ..errors import AgentError
        from ..files import write_text_atomic

        try:
            text = await self.session.export_text(thread_id, fmt)
            await asyncio.to_thread(write_text_atomic, path, text)
        except AgentError as exc:
            self.notify(str(exc), title="Not exported", severity="error", markup=False)
            return None
        except OSError as exc:
            self.notify(f"Could not write {path}: {exc.strerror or exc}.", title="Not exported",
                        severity="error", markup=False)
            return None
        self.notify(f"Exported the thread to {path}", title="Exported", timeout=10, markup=False)
        return path

    def action_import_threads(self) -> None:
        """Ask for a file and import the threads in it."""
        from .screens.dialogs import TextPromptScreen

        async def chosen(path: str | None) -> None:
            if path and path.strip():
                await self.import_from(Path(path.strip()).expanduser())

        self.push_screen(TextPromptScreen("Import our JSON export or a ChatGPT conversations.json from"), chosen)

    async def import_from(self, path: Path) -> list[str]:
        """Import a file in one transaction; a malformed file changes nothing and says why."""
        from ..errors import AgentError

        await self.wait_ready()
        try:
            report = await self.session.import_file(path)
        except AgentError as exc:
            self.notify(str(exc), title="Nothing imported", severity="error", timeout=15, markup=False)
            return []
        await self.reload_threads()
        notes = "".join(f"\n{note}" for note in report.notes)
        self.notify(f"Imported {len(report.thread_ids)} thread(s) from {path}.{notes}", title="Imported",
                    markup=False)
        return list(report.thread_ids)

    # ---- themes

    def action_pick_theme(self) -> None:
        """Choose a colour theme (ours first); the choice is saved in the settings."""
        from .screens.dialogs import MenuScreen

        names = sorted(self.available_themes)
        ours = [n for n in SHIPPED_THEMES if n in names]
        choices = [(n, f"{n}  ✓" if n == self.theme else n) for n in ours + [n for n in names if n not in ours]]

        def chosen(name: str | None) -> None:
            if name:
                self.set_theme(name)

        self.push_screen(MenuScreen("Theme", choices), chosen)

    def action_change_theme(self) -> None:
        """Textual's "Theme" palette command, through our picker so the choice is saved."""
        self.action_pick_theme()

    def set_theme(self, name: str) -> None:
        """Switch to theme ``name`` and save it in the settings."""
        if name not in self.available_themes:
            self.notify(f"Unknown theme {name!r}.", severity="warning", markup=False)
            return
        self.theme = name
        self.config.theme = name
        self._save_config_soon()
