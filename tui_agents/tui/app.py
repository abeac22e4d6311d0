"""The aiagents-tui Textual app.

What other parts of the TUI (panels, screens) may use on the app object:

- ``app.stores``: the session's stores (None until startup has opened the
  database; ``await app.wait_ready()`` first).
- ``app.session``: the engine's ``ChatSession`` (stores, providers, runners, job
  queue, thread creation, turns as event streams).
- ``app.user_id``: the user the app acts as.
- ``app.current_thread_id``: the thread in the chat pane (None for a new chat).
- ``app.config``: the validated ``AppConfig``; ``app.save_config()`` writes it.
- ``await app.reload_current_thread()``: re-read the open thread from the store.
- ``await app.reload_threads()``: re-read the sidebar.
- ``app.show_panel(widget)`` / ``app.hide_panel()`` / ``app.panel``: the
  right-hand panel slot (one widget at a time, beside the chat).
- ``app.push_screen(...)`` as usual for full screens and dialogs.
- ``app.action_inspect_message(message_id)``: called by the message menu's
  "Inspect"; opens the inspector (``panels.PanelsMixin``, which also wires the
  other panels and screens and makes ``current_thread_id`` a property).
- ``app.turns``: ``thread_id -> TurnState`` of running and finished turns.
- ``app.format_time(ts)``: how times are shown (injected in tests).
- ``app.warm_up()``: start (once) loading the engine, the tokenizer, the job queue and
  the runner; returns the task. It runs at the first key typed in the composer and
  before a turn; nothing runs after start-up until then, so an idle app stays idle.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import suppress
from collections.abc import Callable, Iterable
from contextlib import aclosing
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import App, SystemCommand
from textual.css.query import NoMatches
from textual.widget import Widget
from textual.worker import Worker

from .turns import TurnState
from . import actions
from .panels import PanelsMixin
from .screens.main import MainScreen, TitleBar
from .widgets.chat_pane import FIRST_PAGE, NEWER_PAGE, OLDER_PAGE, ChatPane
from .widgets.composer import Composer
from .widgets.message import MessageView, Notice, code_blocks
from .widgets.sidebar import Sidebar, ThreadTree, first_words
from .widgets.status_bar import StatusBar
from .widgets.welcome import Welcome

if TYPE_CHECKING:  # pragma: no cover
    from ..config import AppConfig
    from ..session import ChatSession, Stores
    from textual.screen import Screen

__all__ = ["AiAgentsApp"]

log = logging.getLogger(__name__)

def _actions_provider() -> type:
    from .commands import ActionsProvider

    return ActionsProvider


def _default_provider() -> str:
    from ..providers import registry

    return registry.DEFAULT_PROVIDER


def default_format_time(ts: float) -> str:
    """Local time of a message, e.g. ``2025-01-31 14:05``."""
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def _context_window(provider: str, model: str) -> int | None:
    """The model's context window from the provider registry (None for an unknown provider or no model)."""
    from ..providers import registry

    spec = registry.find(provider)
    return spec.context_window(model) if spec is not None and model else None


class AiAgentsApp(PanelsMixin, App):
    """Keyboard-driven chat with Claude, GPT and Ollama models."""

    TITLE = "aiagents-tui"
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses live elsewhere
    COMMANDS = App.COMMANDS | {_actions_provider}

    BINDINGS = actions.bindings("app")  # declared once, with the palette entries, in actions.py

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
    ) -> None:
        super().__init__()
        self.freeze_gc = freeze_gc
        self._db_flag = db_path
        self.cli_provider = provider
        self.cli_model = model
        self.cli_theme = theme_name
        self._config = config
        self.config_path = config_path
        self.format_time = format_time or default_format_time
        self.session: ChatSession | None = None
        self.current_thread_id: str | None = None
        self.turns: dict[str, TurnState] = {}
        self.provider_name = provider or _default_provider()
        self.model_name = model or ""
        self.provider_ok: bool | None = True if (provider and model) else None
        self.provider_problem = ""
        self._db_ready: asyncio.Event | None = None
        self._trash: list[str] = []
        self._previews: dict[str, str] = {}  # thread id -> first words of its first user message
        self._panel: Widget | None = None
        self.background_jobs = background_jobs
        self._warm_task: asyncio.Task[None] | None = None

    # ---- public surface for panels

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
        """The widget in the right-hand panel, if one is shown."""
        return self._panel

    async def show_panel(self, widget: Widget) -> None:
        """Show ``widget`` in the right-hand panel (replacing what was there)."""
        slot = self.screen_main.query_one("#right-panel")
        await slot.remove_children()
        await slot.mount(widget)
        slot.add_class("-open")
        self._panel = widget

    async def hide_panel(self) -> None:
        """Close the right-hand panel."""
        slot = self.screen_main.query_one("#right-panel")
        await slot.remove_children()
        slot.remove_class("-open")
        self._panel = None
        self.composer.focus()

    # ---- widgets

    def get_default_screen(self) -> Screen:
        self._main = MainScreen(self.format_time)
        return self._main

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
        from .sanitize import sanitize

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

    def on_mount(self) -> None:
        if self._db_ready is None:
            self._db_ready = asyncio.Event()
        # Paint first; the database, settings and provider checks come right after.
        self.call_after_refresh(self._start)

    def _start(self) -> None:
        self.run_worker(self._startup(), name="startup", exit_on_error=False)

    async def _startup(self) -> None:
        from ..errors import AgentError

        config = await self._load_config_safely()
        self._apply_config(config)
        from ..config import resolve_db_path
        from ..session import ChatSession

        self.session = ChatSession(resolve_db_path(self._db_flag), config, config.user_id)
        try:
            await self.session.open()  # also marks replies a crashed run left streaming
        except (AgentError, OSError) as exc:
            await self.chat_pane.show(None, [], False, extra=[Notice(f"Could not open the database: {exc}")])
            return
        await self.restore_panel_state()
        await self.reload_threads()
        assert self._db_ready is not None
        self._db_ready.set()
        if self.current_thread_id is None:
            await self._show_welcome()
        if self.freeze_gc:
            import gc

            # What exists now (Textual, the engine's modules, the first screen) lives as long as the
            # app: frozen, a full collection no longer walks it (measured: 80 ms pauses down to 50).
            gc.freeze()
        # Nothing else runs until the user types: the engine, the tokenizer and the job
        # queue load at the first key in the composer (see ``warm_up``), so an idle app idles.
        self.run_worker(self._check_provider(), name="provider-check", exit_on_error=False)

    async def _load_config_safely(self) -> AppConfig:
        from ..errors import ConfigError

        try:
            # in a thread: pydantic's import and the file read (~90 ms) would hold up the sidebar
            return await asyncio.to_thread(lambda: self.config)
        except ConfigError as exc:
            from ..config import AppConfig

            self.notify(str(exc), severity="error", timeout=15)
            self._config = AppConfig()
            return self._config

    def _apply_config(self, config: AppConfig) -> None:
        if not self.cli_provider:
            self.provider_name = config.default_provider
        if not self.cli_model:
            self.model_name = config.providers.get(self.provider_name).default_model or config.default_model or ""
        if config.keymap:
            self.set_keymap({k: v for k, v in config.keymap.items()})
        try:
            from . import themes

            themes.register_themes(self)
        except Exception:  # a broken theme file must not stop the app
            log.warning("Could not register the theme files.", exc_info=True)
        theme = self.cli_theme or config.theme
        if theme and theme in self.available_themes:
            self.theme = theme
        elif theme:
            self.notify(f"Unknown theme {theme!r}; using the default.", severity="warning")
        if not config.show_sidebar:
            self.sidebar.add_class("-hidden")
        self._update_status()

    def warm_up(self) -> asyncio.Task[None]:
        """Start (once) loading what a turn needs; await the task to wait for it."""
        if self._warm_task is None:
            self._warm_task = asyncio.create_task(self._warm_up())
        return self._warm_task

    def on_text_area_changed(self, event: Any) -> None:
        # The first key typed in the composer is the moment to load the engine: the
        # user is busy typing for a while, and an app nobody types in stays idle.
        if self._warm_task is None and isinstance(event.text_area, Composer) and event.text_area.text:
            self.warm_up()

    async def _warm_up(self) -> None:
        """Start the job queue; import the engine, load the tokenizer and build the runner (in threads)."""
        await self.wait_ready()
        assert self.session is not None
        if self.background_jobs and self.session.job_queue is None:
            try:
                await self.session.start_jobs()
            except Exception:  # chat works without titles and memory jobs
                log.warning("The background job queue did not start.", exc_info=True)
            else:
                self.run_worker(self._watch_jobs(), name="jobs", exit_on_error=False)
        await asyncio.to_thread(self._import_engine)
        try:
            from ..memory.tokens import TokenCounter

            await TokenCounter().load()  # the encoding is shared: the runner's counter finds it loaded
        except Exception:  # counting falls back to estimates
            log.warning("The tokenizer did not load; token counts are estimates.", exc_info=True)
        if self.provider_ok:
            try:
                # in a thread: its HTTP client builds SSL contexts (~100 ms) the UI should not wait for
                await asyncio.to_thread(self.session.runner, self.provider_name)
            except Exception:  # the turn reports it to the user
                log.warning("Could not build the %s runner ahead of a turn.", self.provider_name, exc_info=True)
        # not needed to start a turn: a turn does not wait for it
        self.run_worker(asyncio.to_thread(self._warm_lexers), name="warm-lexers", exit_on_error=False)

    @staticmethod
    def _import_engine() -> None:
        import importlib

        for name in ("tui_agents.runner", "tui_agents.providers", "tui_agents.providers.ollama", "tui_agents.memory",
                     "tui_agents.memory.tokens", "rich.markdown", "tui_agents.store.auth"):
            try:
                importlib.import_module(name)
            except Exception:  # the turn imports it again and reports a failure
                log.warning("Could not preload %s.", name, exc_info=True)

    @staticmethod
    def _warm_lexers() -> None:
        """Compile the common code lexers: Pygments does it on first use (Python: ~40 ms), mid-stream otherwise."""
        try:
            from pygments.lexers import get_lexer_by_name

            for language in ("python", "bash", "javascript", "json"):
                get_lexer_by_name(language)
        except Exception:  # highlighting still works, just later
            log.warning("Could not preload the code lexers.", exc_info=True)

    async def _check_provider(self) -> None:
        """Decide whether chat can start: the provider says (a key, or a local server with a model)."""
        from ..providers import registry

        assert self.session is not None
        spec = registry.find(self.provider_name)
        if spec is not None and spec.local and self.cli_provider and self.cli_model:
            self._set_provider_ok(True)  # named on the command line: trusted without a round trip
            return
        readiness = await self.session.check(self.provider_name, self.model_name)
        if readiness.ok and not self.model_name and readiness.models:
            self.model_name = readiness.models[0]
        self.provider_problem = readiness.problem
        self._set_provider_ok(readiness.ok)

    def _set_provider_ok(self, ok: bool) -> None:
        was = self.provider_ok
        self.provider_ok = ok
        self._update_status()
        if self.current_thread_id is None and was != ok:
            self.run_worker(self._show_welcome(), exit_on_error=False)

    async def _show_welcome(self) -> None:
        pane = self.chat_pane
        await pane.show(None, [], False, extra=[Welcome(self.provider_ok, self.provider_problem,
                                                        self.provider_name, self.model_name)])

    async def _watch_jobs(self) -> None:
        queue = self.session.job_queue if self.session else None
        if queue is None or not hasattr(queue, "watch"):
            return
        async for job in queue.watch():
            self.status_bar.jobs = getattr(queue, "running_count", 0)
            status = str(getattr(job, "status", ""))
            if status.endswith("completed") and getattr(job, "name", "") == "generate_title":
                await self.reload_threads()

    async def on_unmount(self) -> None:
        if self._warm_task is not None:
            self._warm_task.cancel()
        for state in self.turns.values():
            if state.worker is not None and state.running:
                state.worker.cancel()
        if self.session is not None:
            # let cancelled turns save their partial replies first
            await asyncio.sleep(0)
            await self.session.close()

    # ---- status

    def _update_status(self, thread: dict[str, Any] | None = None) -> None:
        bar = self.status_bar
        provider = (thread or {}).get("provider") or self.provider_name
        model = (thread or {}).get("model") or self.model_name
        bar.provider = provider
        bar.model = model
        bar.context_window = _context_window(provider, model)
        bar.state = "" if self.provider_ok is not False else "not ready"

    # ---- sidebar

    async def reload_threads(self) -> None:
        """Re-read the sidebar's threads (active or archived view)."""
        if self.session is None or self.session.stores is None or not self.is_running:
            return
        await self.sidebar.filled()
        tree = self.sidebar.tree
        if tree.show_archived:
            nodes = [dict(t, parent_id=None, depth=0) for t in await self.session.threads.list_archived()]
        else:
            nodes = await self.session.threads.tree()
        for node in nodes:
            if not node.get("title") and node["id"] in self._previews:
                node["preview"] = self._previews[node["id"]]
        tree.set_threads(nodes, keep=self.current_thread_id)

    def on_thread_tree_rows_shown(self, event: ThreadTree.RowsShown) -> None:
        missing = [t["id"] for t in event.threads if not t.get("title") and not t.get("preview")]
        if missing:
            self.run_worker(self._load_previews(missing), group="previews", exit_on_error=False)

    async def _load_previews(self, thread_ids: list[str]) -> dict[str, str]:
        """Look up (and remember) the first words of untitled threads, and label them in the sidebar."""
        wanted = [t for t in thread_ids if t not in self._previews]
        if wanted and self.session is not None and self.session.stores is not None:
            texts = await self.session.first_user_texts(wanted)
            self._previews.update({t: first_words(text) for t, text in texts.items()})
        found = {t: self._previews[t] for t in thread_ids if t in self._previews}
        with suppress(NoMatches):  # the app may be closing
            self.sidebar.tree.set_previews(found)
        return found

    def on_sidebar_view_changed(self, event: Sidebar.ViewChanged) -> None:
        self.sidebar.set_mode("Archived threads (v: back)" if event.archived else "Threads")
        self.run_worker(self.reload_threads(), exit_on_error=False)

    def on_sidebar_thread_chosen(self, event: Sidebar.ThreadChosen) -> None:
        self.run_worker(self.open_thread(event.thread_id, event.message_id), exclusive=True, group="open",
                        exit_on_error=False)

    async def on_sidebar_search_requested(self, event: Sidebar.SearchRequested) -> None:
        await self.wait_ready()
        assert self.session is not None
        from ..errors import AgentError

        try:
            hits = await self.session.search(event.query, limit=50, order=event.order)
        except AgentError as exc:
            self.notify(str(exc), severity="warning")
            return
        untitled = list(dict.fromkeys(h["thread_id"] for h in hits if not h.get("thread_title")))
        if untitled:
            previews = await self._load_previews(untitled)
            hits = [h if h.get("thread_title") else {**h, "thread_title": previews.get(h["thread_id"])} for h in hits]
        await self.sidebar.show_hits(event.query, hits)

    def action_clear_search(self) -> None:
        self.sidebar.end_search()
        self.sidebar.tree.focus()

    # ---- opening threads

    async def open_thread(self, thread_id: str, message_id: str | None = None) -> None:
        """Show a thread in the chat pane (at ``message_id`` when given)."""
        await self.wait_ready()
        assert self.session is not None
        session = self.session
        thread = await session.threads.get(thread_id)
        self.composer.switch_draft(thread_id)
        self.current_thread_id = thread_id
        records: list[dict[str, Any]]
        has_newer = False
        if message_id:
            hit = await session.messages.get(message_id)
            records = await session.messages.list(thread_id, limit=FIRST_PAGE * 2, before=hit["position"] + 6)
            has_newer = bool(records) and records[-1]["position"] < await self._last_position(thread_id)
        else:
            records = await session.messages.list(thread_id, limit=FIRST_PAGE)
        state = self.turns.get(thread_id)
        if state is not None and state.running and state.reply_id:
            records = [r for r in records if r["id"] != state.reply_id]
        pane = self.chat_pane
        extra: list[Widget] = []
        if state is not None and not state.running and state.status == "error" and state.error is not None:
            extra.append(Notice(str(state.error), thread_id=thread_id))
        await pane.show(thread_id, records, has_older=len(records) >= FIRST_PAGE, extra=extra, has_newer=has_newer)
        if state is not None and state.running:
            view = await pane.add_message({"role": "assistant", "model": state.model, "created_at": state.started_at,
                                           "id": state.reply_id}, streaming=True)
            view.feed(state.text)
            state.view = view  # type: ignore[attr-defined]
        if not thread.get("title") and thread_id not in self._previews:
            await self._load_previews([thread_id])
        self._main.query_one(TitleBar).set_thread_title(self._thread_title(thread))
        self._update_status(thread)
        self.sidebar.tree.select_thread(thread_id)
        if message_id:
            view = pane.find(message_id)
            if view is not None:
                pane.release_anchor()
                pane.call_after_refresh(pane.scroll_to_widget, view, animate=False, top=True)
                view.add_class("-selected")
        else:
            self.call_after_refresh(self._fill_older, thread_id)

    def _fill_older(self, thread_id: str) -> None:
        """After the first paint, load one more page above so scrolling up is smooth."""
        pane = self.chat_pane
        if pane.thread_id == thread_id and pane.has_older:
            views = pane.views
            if views and views[0].record.get("position") is not None:
                pane.post_message(ChatPane.LoadOlder(thread_id, views[0].record["position"]))

    async def on_chat_pane_load_older(self, event: ChatPane.LoadOlder) -> None:
        if self.session is None or self.session.stores is None:
            return
        records = await self.session.messages.list(event.thread_id, limit=OLDER_PAGE, before=event.before)
        with suppress(NoMatches):  # the app may be closing
            if self.chat_pane.thread_id == event.thread_id:
                await self.chat_pane.prepend(records, has_older=len(records) >= OLDER_PAGE)

    async def _last_position(self, thread_id: str) -> int:
        assert self.session is not None
        last = await self.session.messages.list(thread_id, limit=1)
        return last[0]["position"] if last else -1

    async def _messages_after(self, thread_id: str, after: int, count: int) -> list[dict[str, Any]]:
        """Up to ``count`` messages after position ``after`` (positions may have gaps: the window widens)."""
        assert self.session is not None
        last = await self._last_position(thread_id)
        span = count
        while after < last:
            records = await self.session.messages.list(thread_id, limit=span, before=after + 1 + span)
            newer = [r for r in records if r["position"] > after]
            if newer:
                return newer[:count]
            span *= 4
        return []

    async def on_chat_pane_load_newer(self, event: ChatPane.LoadNewer) -> None:
        if self.session is None or self.session.stores is None:
            return
        records = await self._messages_after(event.thread_id, event.after, NEWER_PAGE)
        has_newer = bool(records) and records[-1]["position"] < await self._last_position(event.thread_id)
        with suppress(NoMatches):  # the app may be closing
            if self.chat_pane.thread_id == event.thread_id:
                await self.chat_pane.append_newer(records, has_newer=has_newer)

    async def on_chat_pane_jump_to_end(self, event: ChatPane.JumpToEnd) -> None:
        if self.current_thread_id == event.thread_id:
            await self.open_thread(event.thread_id)

    async def reload_current_thread(self) -> None:
        """Re-read the open thread from the store."""
        if self.current_thread_id:
            await self.open_thread(self.current_thread_id)

    def _thread_title(self, thread: dict[str, Any]) -> str:
        from ..tui.sanitize import sanitize

        return sanitize(thread.get("title") or self._previews.get(thread["id"]) or "New chat").replace("\n", " ")

    # ---- sending and streaming

    def can_chat(self) -> bool:
        return bool(self.provider_ok)

    async def on_composer_submitted(self, event: Composer.Submitted) -> None:
        await self.wait_ready()
        assert self.session is not None
        text = event.text
        if not self.can_chat():
            self.notify(self.provider_problem or "No provider is ready yet.", severity="warning")
            return
        thread_id = self.current_thread_id
        if thread_id is not None and thread_id in self.turns and self.turns[thread_id].running:
            self.notify("A reply is still streaming here; press escape to stop it.", severity="warning")
            return
        if thread_id is None:
            thread = await self.session.new_thread(self.provider_name, self.model_name)
            thread_id = thread["id"]
            self._previews[thread_id] = first_words(text)
            self.current_thread_id = thread_id
            self.composer.draft_key = thread_id
            self.chat_pane.thread_id = thread_id
            await self.chat_pane.remove_children()
            self._main.query_one(TitleBar).set_thread_title(self._previews[thread_id])
            self.run_worker(self.reload_threads(), exit_on_error=False)
        self.composer.clear_sent()
        await self.start_turn(thread_id, text)

    async def start_turn(self, thread_id: str, text: str | None) -> TurnState:
        """Run a turn (``text`` None: answer the last user message again) in a worker keyed by thread."""
        assert self.session is not None
        thread = await self.session.threads.get(thread_id)
        state = TurnState(thread_id, thread.get("provider") or self.provider_name,
                          thread.get("model") or self.model_name)
        self.turns[thread_id] = state
        pane = self.chat_pane
        if pane.thread_id == thread_id and pane.has_newer:
            # the window was scrolled away from the end: show the end again, the reply goes there
            records = await self.session.messages.list(thread_id, limit=FIRST_PAGE)
            await pane.show(thread_id, records, has_older=len(records) >= FIRST_PAGE)
        if pane.thread_id == thread_id:
            old = pane.last_notice()
            if old is not None:
                await old.remove()
            if text is not None:
                state.user_view = await pane.add_message(  # type: ignore[attr-defined]
                    {"role": "user", "content": text, "created_at": time.time(), "thread_id": thread_id})
            state.view = await pane.add_message(  # type: ignore[attr-defined]
                {"role": "assistant", "model": state.model, "created_at": time.time(), "thread_id": thread_id},
                streaming=True)
            pane.anchor()
        state.worker = self.run_worker(self._run_turn(state, text), name=f"turn:{thread_id}", group="turns",
                                       exit_on_error=False)
        return state

    def _view_of(self, state: TurnState) -> MessageView | None:
        view = getattr(state, "view", None)
        try:
            if view is not None and view.is_attached and self.chat_pane.thread_id == state.thread_id:
                return view
        except NoMatches:  # the app is closing: the turn still saves, nothing to draw
            pass
        return None

    async def _run_turn(self, state: TurnState, text: str | None) -> None:
        from ..errors import AgentError

        assert self.session is not None
        try:
            await asyncio.shield(self.warm_up())  # the job queue must run before the runner is built
            if text is None:
                stream = self.session.resume(state.thread_id, provider=state.provider)
            else:
                stream = self.session.send(state.thread_id, text, provider=state.provider)
            async with aclosing(stream) as events:
                async for event in events:
                    await self._apply_event(state, event)
        except asyncio.CancelledError:
            state.status = "interrupted"
            await self._end_turn(state)
            raise
        except AgentError as exc:
            state.status, state.error = "error", exc
        except Exception as exc:  # an engine bug must not take the app down
            log.error("A turn of thread %s failed unexpectedly.", state.thread_id, exc_info=True)
            state.status = "error"
            state.error = AgentError(f"The turn failed unexpectedly ({type(exc).__name__}).")
        if state.status == "streaming":
            state.status = "complete"
        await self._end_turn(state)

    async def _apply_event(self, state: TurnState, event: Any) -> None:
        from ..events import (
            GuardrailFlagged, MessageSaved, RateLimitWait, TextDelta, ToolCallFinished, ToolCallStarted,
            TurnFailed, TurnFinished, UsageReported,
        )

        self.panel_event(event)  # the inspector and memory panel follow the turn too
        view = self._view_of(state)
        match event:
            case TextDelta(text=text):
                state.chunks.append(text)
                if view is not None:
                    view.feed(text)
            case MessageSaved(role="user", message_id=mid):
                state.user_message_id = mid
                user_view = getattr(state, "user_view", None)
                if user_view is not None:
                    user_view.set_id(mid)
            case MessageSaved(role="assistant", message_id=mid):
                state.reply_id = mid
                if view is not None:
                    view.set_id(mid)
            case ToolCallStarted(call_id=cid, name=name, arguments=args):
                state.tools[cid] = {"name": name, "arguments": args, "status": "running"}
                if view is not None:
                    await view.add_tool_call(cid, name, args)
            case ToolCallFinished(call_id=cid, status=status, duration_ms=ms, result=result, error=error):
                state.tools[cid] = {**state.tools.get(cid, {}), "status": status, "duration_ms": ms}
                if view is not None:
                    view.finish_tool_call(cid, status, ms, result if error is None else error)
            case UsageReported(usage=usage):
                state.usage = usage
            case RateLimitWait(seconds=seconds):
                self.status_bar.wait_until = time.time() + seconds
            case GuardrailFlagged(reason=reason, action=action):
                if view is not None:
                    await self.chat_pane.add(Notice(f"Guardrail {action}: {reason}", error=action == "blocked"))
            case TurnFinished(usage=usage, text=text):
                state.status = "complete"
                state.usage = usage
                state.chunks[:] = [text]
                if self.current_thread_id == state.thread_id:
                    self.status_bar.last_turn = usage.total_tokens
                    self.run_worker(self._count_context(state), group="ctx", exclusive=True, exit_on_error=False)
            case TurnFailed(error=error, status=status, partial_text=partial):
                state.status = status
                state.error = error
                if partial and not state.chunks:
                    state.chunks.append(partial)

    async def _count_context(self, state: TurnState) -> None:
        """Show in the status bar what the next turn of the thread sends (the memory panel lists the same)."""
        from ..errors import AgentError

        assert self.session is not None
        try:
            context = await self.session.context(state.thread_id, provider=state.provider, model=state.model)
        except AgentError:
            log.warning("Could not count the context of thread %s.", state.thread_id, exc_info=True)
            return
        if self.current_thread_id == state.thread_id:
            self.status_bar.context_window = context.window
            self.status_bar.context_used = context.tokens

    async def _end_turn(self, state: TurnState) -> None:
        with suppress(NoMatches):
            await self._show_turn_end(state)

    async def _show_turn_end(self, state: TurnState) -> None:
        view = self._view_of(state)
        if view is not None:
            await view.finish(state.status, state.text)
            if state.status == "error" and state.error is not None:
                await self.chat_pane.add(Notice(str(state.error), thread_id=state.thread_id))
        elif state.status == "error" and state.error is not None:
            self.notify(f"A reply in another thread failed: {state.error}", severity="error")
        if state.status == "complete" and self.sidebar.tree.show_archived is False:
            self.run_worker(self.reload_threads(), exit_on_error=False)

    # ---- actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop_reply":
            state = self.turns.get(self.current_thread_id or "")
            return bool(state and state.running)
        return True

    def action_stop_reply(self) -> None:
        """Stop the streaming reply of the open thread; the partial text is kept."""
        state = self.turns.get(self.current_thread_id or "")
        if state is not None and state.running and state.worker is not None:
            state.worker.cancel()

    async def action_new_thread(self) -> None:
        """Start a new chat."""
        self.composer.switch_draft(None)
        self.current_thread_id = None
        self._main.query_one(TitleBar).set_thread_title(None)
        self._update_status()
        await self._show_welcome()
        self.composer.focus()

    def action_focus_search(self) -> None:
        """Focus the sidebar's search box."""
        self.sidebar.remove_class("-hidden")
        self.sidebar.query_one("#search").focus()

    def action_toggle_sidebar(self) -> None:
        """Show or hide the sidebar."""
        self.sidebar.toggle_class("-hidden")
        if self.sidebar.has_class("-hidden"):
            self.composer.focus()

    def action_toggle_archived(self) -> None:
        self.sidebar.tree.action_toggle_archived()

    async def action_retry(self) -> None:
        """Retry the open thread's failed reply, or check the provider again."""
        thread_id = self.current_thread_id
        if thread_id is None:
            self.provider_ok = None
            await self._check_provider()
            if self.provider_ok:
                await self._show_welcome()
            return
        state = self.turns.get(thread_id)
        if state is not None and state.running:
            return
        await self.start_turn(thread_id, None)

    def on_notice_retry(self, event: Notice.Retry) -> None:
        if event.thread_id == self.current_thread_id:
            self.run_worker(self.action_retry(), exit_on_error=False)

    def on_welcome_retry(self, event: Welcome.Retry) -> None:
        self.run_worker(self.action_retry(), exit_on_error=False)

    async def action_regenerate(self) -> None:
        """Answer the last user message again in a branch; the old reply stays where it was."""
        thread_id = self.current_thread_id
        if thread_id is None or self.session is None:
            return
        state = self.turns.get(thread_id)
        if state is not None and state.running:
            self.notify("Stop the streaming reply first (escape).", severity="warning")
            return
        records = await self.session.messages.list(thread_id, limit=50)
        users = [r for r in records if r["role"] == "user"]
        if not users:
            return
        last_user = users[-1]
        if records[-1]["id"] == last_user["id"]:
            await self.start_turn(thread_id, None)  # nothing to keep: no reply yet
            return
        branch = await self.session.branch(thread_id, last_user["id"])
        await self.reload_threads()
        await self.open_thread(branch["id"])
        await self.start_turn(branch["id"], None)
        self.notify("Regenerating in a branch; the earlier reply stays in the original thread.")

    async def _step_thread(self, delta: int) -> None:
        ids = self.sidebar.tree.thread_ids()
        if not ids:
            return
        if self.current_thread_id in ids:
            index = (ids.index(self.current_thread_id) + delta) % len(ids)
        else:
            index = 0 if delta > 0 else len(ids) - 1
        await self.open_thread(ids[index])

    async def action_previous_thread(self) -> None:
        await self._step_thread(-1)

    async def action_next_thread(self) -> None:
        await self._step_thread(1)

    def _target_thread(self) -> dict[str, Any] | None:
        """The thread a sidebar action applies to: the tree's cursor when focused, else the open one."""
        tree = self.sidebar.tree
        if self.focused is tree:
            return tree.selected_thread()
        if self.current_thread_id:
            return {"id": self.current_thread_id}
        return None

    async def action_fork_thread(self) -> None:
        """Fork the target thread and open the copy."""
        target = self._target_thread()
        if target is None or self.session is None:
            return
        fork = await self.session.fork(target["id"])
        await self.reload_threads()
        await self.open_thread(fork["id"])
        self.notify("Forked the thread.")

    def action_rename_thread(self) -> None:
        """Rename the target thread."""
        from .screens.dialogs import TextPromptScreen

        target = self._target_thread()
        if target is None or self.session is None:
            return
        backend = self.session

        async def done(title: str | None) -> None:
            if title and title.strip():
                thread = await backend.threads.rename(target["id"], title.strip())
                self.sidebar.tree.update_thread(thread)
                if thread["id"] == self.current_thread_id:
                    self._main.query_one(TitleBar).set_thread_title(self._thread_title(thread))

        current = target.get("title") or ""
        self.push_screen(TextPromptScreen("Rename thread", current), done)

    async def action_archive_thread(self) -> None:
        """Archive the target thread, or unarchive it in the archived view."""
        target = self._target_thread()
        if target is None or self.session is None:
            return
        thread = await self.session.threads.get(target["id"])
        if thread.get("archived_at"):
            await self.session.threads.unarchive(thread["id"])
            self.notify("Unarchived the thread.")
        else:
            await self.session.threads.archive(thread["id"])
            self.notify("Archived the thread (v in the sidebar shows archived threads).")
        await self.reload_threads()

    def action_delete_thread(self) -> None:
        """Move the target thread to the trash, after a confirmation."""
        from .screens.dialogs import ConfirmScreen

        target = self._target_thread()
        if target is None or self.session is None:
            return
        backend = self.session
        thread_id = target["id"]

        async def done(yes: bool | None) -> None:
            if not yes:
                return
            await backend.threads.trash(thread_id)
            self._trash.append(thread_id)
            if thread_id == self.current_thread_id:
                await self.action_new_thread()
            await self.reload_threads()
            self.notify("Moved the thread to the trash. Press u in the sidebar (or 'Undo delete' in ctrl+p) to "
                        "restore it.", timeout=10)

        self.push_screen(ConfirmScreen("Move this thread to the trash?", "Move to trash"), done)

    async def action_undo_delete(self) -> None:
        """Restore the thread moved to the trash last."""
        if not self._trash or self.session is None:
            self.notify("Nothing to undo.")
            return
        thread_id = self._trash.pop()
        await self.session.threads.restore(thread_id)
        await self.reload_threads()
        self.sidebar.tree.select_thread(thread_id)
        self.notify("Restored the thread.")

    def action_empty_trash(self) -> None:
        """Delete the threads in the trash for good."""
        from .screens.dialogs import ConfirmScreen

        backend = self.session
        if backend is None:
            return

        async def done(yes: bool | None) -> None:
            if yes:
                count = await backend.threads.empty_trash()
                self._trash.clear()
                self.notify(f"Deleted {count} thread(s) for good.")

        self.push_screen(ConfirmScreen("Delete every thread in the trash for good?", "Empty trash"), done)

    def action_pick_model(self) -> None:
        """Choose provider and model for the open thread (or new chats)."""
        from .screens.model_picker import ModelPickerScreen

        self.push_screen(ModelPickerScreen(self.provider_name, self.model_name), self._model_picked)

    async def _model_picked(self, choice: tuple[str, str] | None) -> None:
        if not choice or self.session is None:
            return
        provider, model = choice
        self.provider_name, self.model_name = provider, model
        thread = None
        if self.current_thread_id:
            thread = await self.session.threads.set_model(self.current_thread_id, provider, model)
        self.provider_ok = None
        await self._check_provider()
        self._update_status(thread)
        if self.current_thread_id is None:
            await self._show_welcome()

    def action_settings(self) -> None:
        """Open the settings screen."""
        from .screens.settings import SettingsScreen

        self.push_screen(SettingsScreen(), self._settings_closed)

    async def _settings_closed(self, changed: bool | None) -> None:
        if changed and self.session is not None:
            self.session.config = self.config
            self.session.forget_providers()
            self._apply_config(self.config)
            self.provider_ok = None
            await self._check_provider()

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

    # ---- message cursor and menu

    def on_chat_pane_left(self, event: ChatPane.Left) -> None:
        self.composer.focus()

    def on_chat_pane_menu_requested(self, event: ChatPane.MenuRequested) -> None:
        from .screens.dialogs import MenuScreen

        view = event.view
        if not view.message_id:
            self.notify("This message is not saved yet.")
            return
        choices = [("branch", "Branch from here")]
        if view.role == "user":
            choices.append(("edit", "Edit and resend (in a branch)"))
        choices.append(("copy", "Copy text"))
        for i, _block in enumerate(code_blocks(view.record.get("content") or ""), 1):
            choices.append((f"code:{i}", f"Copy code block {i}"))
        choices.append(("inspect", "Inspect"))

        async def chosen(choice: str | None) -> None:
            if choice:
                await self._message_action(view.record, choice)

        self.push_screen(MenuScreen("Message", choices), chosen)

    async def _message_action(self, record: dict[str, Any], choice: str) -> None:
        assert self.session is not None
        thread_id = record.get("thread_id") or self.current_thread_id
        if choice == "branch" and thread_id:
            branch = await self.session.branch(thread_id, record["id"])
            await self.reload_threads()
            await self.open_thread(branch["id"])
            self.notify("Branched from that message.")
        elif choice == "edit" and thread_id:
            from .screens.dialogs import TextPromptScreen

            async def resend(text: str | None) -> None:
                if text and text.strip():
                    await self._edit_and_resend(thread_id, record, text)

            self.push_screen(TextPromptScreen("Edit and resend", record.get("content") or "", multiline=True), resend)
        elif choice == "copy":
            self.copy_to_clipboard(record.get("content") or "")
            self.notify("Copied the message.")
        elif choice.startswith("code:"):
            blocks = code_blocks(record.get("content") or "")
            index = int(choice.split(":", 1)[1]) - 1
            if 0 <= index < len(blocks):
                self.copy_to_clipboard(blocks[index])
                self.notify(f"Copied code block {index + 1}.")
        elif choice == "inspect":
            self.action_inspect_message(record["id"])

    async def _edit_and_resend(self, thread_id: str, record: dict[str, Any], text: str) -> None:
        """Send an edited user message in a branch that ends just before the original."""
        assert self.session is not None
        before = await self.session.messages.list(thread_id, limit=1, before=record["position"])
        if before:
            branch = await self.session.branch(thread_id, before[0]["id"])
        else:
            source = await self.session.threads.get(thread_id)
            branch = await self.session.new_thread(source.get("provider") or self.provider_name,
                                                   source.get("model") or self.model_name)
        await self.reload_threads()
        await self.open_thread(branch["id"])
        await self.start_turn(branch["id"], text)

    # ---- command palette

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)

    def palette_actions(self) -> list[tuple[str, str, str]]:
        """(title, help with the keys in effect, action) of every app action, for the palette provider."""
        return actions.palette_entries(self.config.keymap)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.name == "startup" and event.state.name == "ERROR":
            self.notify(f"Startup failed: {event.worker.error}", severity="error", timeout=30)
