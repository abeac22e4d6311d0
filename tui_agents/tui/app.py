"""The aiagents-tui Textual app: configuration, theme, keymap, start-up and the screens.

The workflows live elsewhere: ``screens/main.py`` with ``threads.py`` and ``turns.py`` (send, stop, retry,
regenerate, open, fork, branch, search), ``panels.py`` (panels and full screens), ``actions.py`` (keys and
palette). They use ``app.session`` (the engine's ``ChatSession``; None until start-up opened the database:
``await app.wait_ready()``), ``app.stores``, the reactive ``app.current_thread_id``, ``app.config`` /
``app.save_config()``, ``app.user_id``, ``app.format_time(ts)``, ``app.turns`` (``thread_id -> TurnState``)
and ``app.warm_up()`` (loads the engine right after the first screen, so the first Enter sends at once).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events
from textual.app import App, SystemCommand
from textual.reactive import var
from textual.widget import Widget
from textual.worker import Worker

from ..providers import registry
from . import actions
from .startup import FirstPage, FirstTheme, first_theme, later, settings_theme
from .screens.main import MainScreen
from .widgets.chat_pane import ChatPane
from .widgets.composer import Composer
from .widgets.sidebar import Sidebar
from .widgets.status_bar import StatusBar

if TYPE_CHECKING:  # pragma: no cover
    from ..config import AppConfig
    from ..session import ChatSession, Stores
    from textual.screen import Screen
    from .background import BackgroundTurns
    from .drafts import DraftKeeper
    from .idle_gc import IdleCollector
    from .panels import PanelController
    from .tool_access import ToolAccess
    from .turns import TurnState

__all__ = ["AiAgentsApp"]


def _actions_provider() -> type:
    from .commands import ActionsProvider

    return ActionsProvider


def default_format_time(ts: float) -> str:
    """Local time of a message, e.g. ``2025-01-31 14:05``."""
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


class AiAgentsApp(FirstTheme, App):
    """Keyboard-driven chat with Claude, GPT and Ollama models."""

    TITLE = "aiagents-tui"
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses live elsewhere
    COMMANDS = App.COMMANDS | {_actions_provider}

    BINDINGS = actions.bindings("app")  # declared once, with the palette entries, in actions.py

    current_thread_id: var[str | None] = var(None, init=False)  # var: a change repaints nothing by itself
    """The thread in the chat pane (None for a new chat); the open panel follows it."""

    def __init__(
        self,
        db_path: str | Path | None = None,
        provider: str | None = None,
        model: str | None = None,
        theme_name: str | None = None,
        *,
        config: AppConfig | None = None,
        config_path: Path | None = None,
        format_time: Callable[[float], str] | None = None,
        background_jobs: bool = True,
        freeze_gc: bool = False,
        new_chat: bool = False,
        first_page: FirstPage | None = None,
    ) -> None:
        super().__init__()
        self.freeze_gc = freeze_gc
        self.idle_gc: IdleCollector | None = None  # started with the app's gc settings (``freeze_gc``)
        if freeze_gc:
            import gc

            gc.freeze()  # the modules live as long as the app: start-up's collections skip them (20-30 ms)
            gc.enable()  # the command line turns it off while it imports the app
        self.db_flag = db_path
        self.cli_provider = provider
        self.cli_model = model
        self.cli_theme = theme_name
        self._config = config
        self.config_path = config_path
        self.format_time = format_time or default_format_time
        self.session: ChatSession | None = None
        self.turns: dict[str, TurnState] = {}
        self.provider_name = provider or registry.DEFAULT_PROVIDER
        self.model_name = model or ""
        self.provider_ok: bool | None = True if (provider and model) else None
        self.provider_problem = ""
        self._db_ready: asyncio.Event | None = None
        self.background_jobs = background_jobs
        self._warm_task: asyncio.Task[None] | None = None
        self.fresh_start = new_chat  # --new: start in a new chat instead of the last thread
        self._early_keys: list[events.Key] | None = []  # typed before the composer had the focus
        self.first_page = first_page or FirstPage(db_path, config_path=config_path)  # read at launch (startup.py)
        first_theme(self)  # before the stylesheet is parsed

    # ---- what the screens and panels use (the helpers load at first use, after the first frame)

    panels: PanelController = later(".panels", "PanelController")  # right-hand panels and full screens
    tools: ToolAccess = later(".tool_access", "ToolAccess")  # tool servers and approvals
    background: BackgroundTurns = later(".background", "BackgroundTurns")  # replies streaming in other threads
    drafts: DraftKeeper = later(".drafts", "DraftKeeper")  # the composer's drafts, saved per thread

    @property
    def config(self) -> AppConfig:
        """The settings (read on first use; defaults if the file is missing)."""
        if self._config is None:
            from ..config import load_config

            self._config = load_config(self.config_path)
        return self._config

    def save_config(self) -> None:
        """Write ``app.config`` to the settings file."""
        from ..config import save_config

        save_config(self.config, self.config_path)

    @property
    def stores(self) -> Stores | None:
        """The session's stores (None before startup finished)."""
        return self.session.stores if self.session else None

    @property
    def user_id(self) -> str:
        """The user the app acts as."""
        return self.session.user_id if self.session else (self._config.user_id if self._config else "local")

    async def wait_ready(self) -> None:
        """Wait until the database is open and the sidebar loaded."""
        if self._db_ready is None:
            self._db_ready = asyncio.Event()
        await self._db_ready.wait()

    @property
    def panel(self) -> Widget | None:
        """The widget in the chat screen's right-hand panel, if one is shown."""
        return self.screen_main.panel

    async def hide_panel(self) -> None:
        """Close the chat screen's right-hand panel (a panel's own close key calls this)."""
        await self.screen_main.hide_panel()

    # ---- widgets

    def get_default_screen(self) -> Screen:
        self._main = MainScreen(self.format_time)
        return self._main

    def watch_current_thread_id(self, thread_id: str | None) -> None:
        self.panels.follow(thread_id)
        self.drafts.thread_changed(thread_id)
        self.background.seen(thread_id)

    @property
    def screen_main(self) -> MainScreen:
        return self._main

    @property
    def chat_pane(self) -> ChatPane:
        return self._main.query_one(ChatPane)

    @property
    def composer(self) -> Composer:
        return self._main.query_one(Composer)

    @property
    def sidebar(self) -> Sidebar:
        return self._main.query_one(Sidebar)

    @property
    def status_bar(self) -> StatusBar:
        return self._main.query_one(StatusBar)

    def notify(self, message: str, *, title: str = "", severity: Any = "information", timeout: float | None = None,
               markup: bool = False) -> None:
        """A toast shown literally, never parsed as markup: it may carry a server's, a model's or a file's text."""
        from ..sanitize import sanitize

        super().notify(sanitize(message), title=sanitize(title), severity=severity, timeout=timeout, markup=False)

    # ---- crash reports never print locals (a key could be in one)

    def _fatal_error(self) -> None:
        from rich.segment import Segments
        from rich.traceback import Traceback

        self.bell()
        traceback = Traceback(show_locals=False, width=None)
        self._exit_renderables.append(Segments(self.console.render(traceback, self.console.options)))
        self._close_messages_no_wait()

    # ---- startup

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.MouseDown)) and self.idle_gc is not None:
            self.idle_gc.key()  # a click (a thread chosen in the sidebar) is the user at work too
        # Keys typed before the first screen has its focus would go to no widget and be lost: held
        # here, they reach the composer, in order, once it has the focus.
        if isinstance(event, events.Key) and not event.is_forwarded and self._early_keys is not None:
            if self.focused is None:
                self._early_keys.append(event)
                return
            await self._release_keys()
        await super().on_event(event)

    async def _release_keys(self) -> None:
        held, self._early_keys = self._early_keys or [], None
        for key in held:
            await super().on_event(key)

    def on_mount(self) -> None:
        if self._db_ready is None:
            self._db_ready = asyncio.Event()
        # Paint first; the database, settings and provider checks come right after.
        self.call_after_refresh(self._start)

    async def _start(self, frames: int = 0) -> None:
        if self.focused is None and frames < 10:  # the composer not focused yet: try after the next frame
            self.call_after_refresh(self._start, frames + 1)
            return
        await self._release_keys()  # in the message loop, so keys typed meanwhile come after these
        from . import startup

        self.run_worker(partial(startup.run, self), name="startup", exit_on_error=False)

    def database_ready(self) -> None:
        """The database is open and the sidebar loaded (``wait_ready`` returns)."""
        assert self._db_ready is not None
        self._db_ready.set()

    def apply_config(self, config: AppConfig) -> None:
        """Apply the settings: provider and model, keymap, theme, sidebar."""
        if not self.cli_provider:
            self.provider_name = config.default_provider
        if not self.cli_model:
            self.model_name = config.providers.get(self.provider_name).default_model or config.default_model or ""
        if config.keymap:
            self.set_keymap({k: v for k, v in config.keymap.items()})
        settings_theme(self, config)
        if not config.show_sidebar:
            self.sidebar.add_class("-hidden")
        self.screen_main.turns.update_status()

    def warm_up(self) -> asyncio.Task[None]:
        """Start (once) loading what a turn needs; await the task to wait for it."""
        if self._warm_task is None:
            from .warmup import warm_up

            self._warm_task = asyncio.create_task(warm_up(self))
        return self._warm_task

    @property
    def engine_ready(self) -> bool:
        """Whether the warm-up has loaded the engine and the tokenizer."""
        return self._warm_task is not None and self._warm_task.done()

    def on_text_area_changed(self, event: Any) -> None:
        # The first key typed in the composer is the moment to load the engine: the
        # user is busy typing for a while, and an app nobody types in stays idle.
        if self._warm_task is None and isinstance(event.text_area, Composer) and event.text_area.text:
            self.warm_up()
        if isinstance(event.text_area, Composer):
            self.drafts.text_changed()

    async def on_unmount(self) -> None:
        if self._warm_task is not None:
            self._warm_task.cancel()
        for state in self.turns.values():
            if state.worker is not None and state.running:
                state.worker.cancel()
        if self.session is not None:
            await self.drafts.flush()
            # let cancelled turns save their partial replies first
            await asyncio.sleep(0)
            await self.session.close()

    # ---- app-wide actions (the chat screen has its own; panels.py the panels')

    async def action_agents(self) -> None:
        """Open the agents screen."""
        await self.panels.agents()

    async def action_documents(self) -> None:
        """Open the documents screen."""
        await self.panels.documents()

    def action_import_threads(self) -> None:
        """Ask for a file and import the threads in it."""
        self.panels.ask_import()

    async def import_from(self, path: Path) -> list[str]:
        """Import a thread file; a malformed file changes nothing and says why."""
        return await self.panels.import_from(path)

    def action_pick_theme(self) -> None:
        """Choose a colour theme (ours first); the choice is saved in the settings."""
        self.panels.pick_theme()

    def action_change_theme(self) -> None:
        """Textual's "Theme" palette command, through our picker so the choice is saved."""
        self.panels.pick_theme()

    def set_theme(self, name: str) -> None:
        """Switch to theme ``name`` and save it in the settings."""
        self.panels.set_theme(name)

    async def on_agent_selected(self, event: Any) -> None:
        """New chats start from the chosen agent, now and after a restart."""
        await self.panels.agent_selected(event.agent_id)

    def action_settings(self) -> None:
        """Open the settings screen."""
        from .screens.settings import SettingsScreen

        self.push_screen(SettingsScreen(), self._settings_closed)

    async def _settings_closed(self, changed: bool | None) -> None:
        if changed and self.session is not None:
            self.session.config = self.config
            await self.session.apply_memory_approval()
            self.session.forget_providers()
            self.apply_config(self.config)
            self.provider_ok = None
            await self.screen_main.turns.check_provider()

    def action_help_quit(self) -> None:
        """ctrl+c: say which key quits, as plain text (this app's toasts never parse markup)."""
        keys = [key for key, active in self.active_bindings.items() if active.binding.action in ("quit", "app.quit")]
        key = keys[0] if keys else "ctrl+q"  # the key's name as README writes it, not the footer's ^q
        self.notify(f"Press {key} to quit the app.", title="Do you want to quit?")

    async def action_quit(self) -> None:
        """Quit; while replies stream, ask first (on yes they are saved as interrupted)."""
        await self.background.quit()

    def action_retry_tool_servers(self) -> None:
        """Start the failed tool servers again at their next use."""
        self.tools.retry()

    def action_help(self) -> None:
        """Show the keys of the focused area."""
        from .screens.dialogs import HelpScreen, help_rows

        focused = self.focused
        node: Any = focused
        help_text = ""
        while node is not None and not help_text:
            help_text = getattr(node, "HELP", "") or ""
            node = node.parent
        area = type(focused).__name__ if focused is not None else "App"
        self.push_screen(HelpScreen(area, help_text, help_rows(self)))

    # ---- command palette

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)

    def palette_actions(self) -> list[tuple[str, str, str]]:
        """(title, help with the keys in effect, action) of every action, for the palette provider."""
        return actions.palette_entries(self.config.keymap)

    async def run_palette_action(self, action: str) -> None:
        """Run a palette entry's action where it is declared: on the chat screen, or on the app."""
        spec = actions.by_action(action)
        await self.run_action(action, self.screen_main if spec is not None and spec.where != "app" else self)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.name == "startup" and event.state.name == "ERROR":
            self.notify(f"Startup failed: {event.worker.error}", severity="error", timeout=30)
