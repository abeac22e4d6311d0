"""The app's start-up, in the order a user sees it: the first screen with the thread list, then everything else.

1. The command line starts ``FirstPage`` first thing, before Textual is imported: a thread that reads the
   sidebar's first page of threads (and the labels of the untitled ones) with the standard ``sqlite3``
   module alone (``store.first_page``), and what the first frame needs of the settings file
   (``show_sidebar``, ``theme``). ``AiAgentsApp.__init__`` freezes the imported modules for the
   garbage collector (and starts ``FirstPage`` itself when it was given none).
2. The first frame: title bar, the sidebar with the newest threads drawn as text (``Sidebar``'s preview;
   an empty frame on a first launch; none when the settings hide it), the chat and the focused composer. Keys typed from now on land in
   the composer; keys typed earlier are held and replayed (``AiAgentsApp.on_event``).
3. ``run(app)``, right after that frame: the search box and the thread tree take the preview's place with
   the same rows; the log file is set up; then the settings load (pydantic, in a thread), the store opens, the full list replaces
   the page without moving the rows already drawn, the last thread reopens at its end with its draft
   (unless a thread was chosen in the list meanwhile: that one opens), and the provider check and the
   engine's warm-up start.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
from concurrent.futures import Future
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    from ..config import AppConfig
    from .app import AiAgentsApp

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_THEME", "FirstPage", "FirstTheme", "SIDEBAR_PAGE", "early_settings", "first_theme", "later", "run",
           "load_config_safely", "settings_theme"]

SIDEBAR_PAGE = 100
"""How many threads the sidebar draws at a time (the first page is read at launch)."""

DEFAULT_THEME = "aiagents-dark"
"""The theme without a setting (``AppConfig.theme``'s default; a test keeps the two the same)."""


def later(module: str, name: str) -> Any:
    """An attribute holding ``module.name(owner)``, made (and its module imported) at first use.

    For the app's and the chat screen's workflow helpers: none is needed for the first frame.
    """

    def make(owner: Any) -> Any:
        return getattr(importlib.import_module(module, __package__), name)(owner)

    prop = cached_property(make)
    prop.__doc__ = f"``{module}.{name}``, made at first use."
    return prop


class FirstPage:
    """The sidebar's first ``limit`` rows, read in a thread of its own (``store.first_page``).

    The command line starts it first thing, before Textual is imported, so the rows are there when the
    chat screen is composed and go into the first frame (``Sidebar``'s preview).
    """

    def __init__(self, db_flag: Any, limit: int = SIDEBAR_PAGE, config_path: Path | None = None) -> None:
        self.future: Future[Any] = Future()
        self.settings: Future[dict[str, Any]] = Future()
        """What the first frame needs of the settings file (``early_settings``): the sidebar shown, the theme."""
        self._db_flag = db_flag
        self._limit = limit
        self._config_path = config_path
        threading.Thread(target=self._read, name="first-page", daemon=True).start()

    def _read(self) -> None:
        self.settings.set_result(early_settings(self._config_path))
        try:
            from ..paths import resolve_db_path

            path = resolve_db_path(self._db_flag)
            # A first launch: no list to read, and the store's imports (under the GIL) would slow the first frame.
            if not path.exists():
                self.future.set_result(None)
                return
            from ..store.first_page import first_page

            self.future.set_result(first_page(path, self._limit))
        except Exception as exc:  # the store's own path draws the list then
            self.future.set_exception(exc)

    def setting(self, name: str, default: Any, wait: float) -> Any:
        """The settings file's ``name`` as ``early_settings`` read it (``default`` if not known within ``wait`` s)."""
        try:
            return self.settings.result(timeout=wait).get(name, default)
        except Exception:
            return default

    def sidebar_shown(self, wait: float) -> bool:
        """Whether the settings show the sidebar (True if that is not known within ``wait`` seconds)."""
        return self.setting("show_sidebar", True, wait) is not False

    def rows(self, wait: float) -> Any:
        """The page read (``first_page``'s result) if it is there within ``wait`` seconds, else None."""
        try:
            return self.future.result(timeout=wait)
        except Exception:  # not read yet (a slow disk, a locked file) or failed: the list comes later
            return None


_EARLY_SETTINGS = ("show_sidebar", "theme")


def early_settings(path: Path | None) -> dict[str, Any]:
    """The settings the first frame shows (``_EARLY_SETTINGS``), read without the settings' model (pydantic).

    Empty without a file, or when the file names none of them or cannot be read: the settings' own load
    (``load_config_safely``) then says what is wrong and applies them after the first frame.
    """
    try:
        if path is None:
            from ..paths import config_path

            path = config_path()
        raw = path.read_bytes()
        if not any(name.encode() in raw for name in _EARLY_SETTINGS):  # a first launch has no file
            return {}
        import tomllib

        data = tomllib.loads(raw.decode("utf-8"))
        return {name: data[name] for name in _EARLY_SETTINGS if name in data}
    except Exception:
        return {}


class FirstTheme:
    """For the app: ``App.__init__`` asks for its default theme's variables before ours is known (~1 ms, unused).

    ``first_theme`` sets the app's theme in ``AiAgentsApp.__init__`` and then its variables.
    """

    theme_pending = True

    def get_css_variables(self) -> dict[str, str]:
        return {} if self.theme_pending else super().get_css_variables()  # type: ignore[misc]


def settings_theme(app: AiAgentsApp, config: AppConfig) -> None:
    """Register the theme files and apply the theme of the command line or the settings (notify if unknown)."""
    try:
        from . import themes

        themes.register_themes(app)
    except Exception:  # a broken theme file must not stop the app
        log.warning("Could not register the theme files.", exc_info=True)
    theme = app.cli_theme or config.theme
    if theme and theme in app.available_themes:
        app.theme = theme
    elif theme:
        app.notify(f"Unknown theme {theme!r}; using the default.", severity="warning")


def first_theme(app: AiAgentsApp) -> None:
    """Start on the theme the command line or the settings name: the first frame has its colours, no switch after.

    Called in ``AiAgentsApp.__init__``, before the stylesheet is parsed, so the CSS is parsed once with the
    theme's variables (setting ``app.theme`` later parses it again: ~70 M instructions). The default theme is
    made in code (``default_theme``), another shipped theme loads from its own file; a user's theme folder may
    hold any name (or replace a shipped one), so then all theme files load now. An unknown name or a broken
    file is left to the settings' load, which says so.
    """
    try:
        _set_first_theme(app)
    finally:  # the variables ``App.__init__`` left out (``AiAgentsApp.get_css_variables``), for the theme set
        app.theme_pending = False
        app.stylesheet.set_variables(app.get_css_variables())


def _set_first_theme(app: AiAgentsApp) -> None:
    from textual.app import App

    config = app._config  # given to the app (tests, embedders): as it says
    name = app.cli_theme or (config.theme if config is not None else
                             app.first_page.setting("theme", DEFAULT_THEME, wait=0.1))
    if not isinstance(name, str) or name == app.theme:
        return
    try:
        if name not in app.available_themes:
            from ..paths import user_themes_dir

            if user_themes_dir().is_dir():
                from . import themes

                themes.register_themes(app)
            elif name == DEFAULT_THEME:
                from .default_theme import default_theme

                app.register_theme(default_theme())
            else:
                from . import themes

                if (path := themes.builtin_themes_dir() / f"{name}.toml").is_file():
                    app.register_theme(themes.load_theme_file(path, check=False))
        if name not in app.available_themes:
            return
        app.set_reactive(App.theme, name)  # what ``App.__init__`` did for its default theme, for this one
        dark = app.current_theme.dark
        app.set_class(dark, "-dark-mode", update=False)
        app.set_class(not dark, "-light-mode", update=False)
        app._refresh_truecolor_filter(app.ansi_theme)  # ANSI colours follow a light theme (private Textual)
    except Exception:  # noqa: BLE001 - a broken theme file: the settings' load registers the themes again and says why
        return


def sidebar_shown(app: AiAgentsApp) -> bool:
    """Whether the settings show the sidebar, known before the first frame (``FirstPage``: no pydantic)."""
    config = app._config  # given to the app (tests, embedders): as it says
    return config.show_sidebar if config is not None else app.first_page.sidebar_shown(wait=0.1)


def painted(app: AiAgentsApp) -> asyncio.Future[None]:
    """Resolves once the screen has been refreshed."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    app.call_after_refresh(lambda: done.done() or done.set_result(None))
    return done


async def run(app: AiAgentsApp) -> None:
    """Everything after the first frame (see the module docstring)."""
    from ..errors import AgentError
    from .widgets.message import Notice

    if await app.screen_main.threads.show_first_page(app.first_page.future):
        await painted(app)  # before the settings load in a thread (pydantic) competes with the paint
    if getattr(app, "log_file", False):  # the command line's app
        from ..logs import setup_logging

        # Warnings and errors go to a rotating file (keys masked), never over the screen (which
        # Textual's capture of stderr guards until now). Not before the first frame: ~4 M instructions.
        setup_logging()
    config = await load_config_safely(app)
    app.apply_config(config)
    if config.show_sidebar and app.screen_main.sidebar_hidden_at_start:  # the quick read disagreed (a bad file)
        app.sidebar.remove_class("-hidden")
    from ..paths import resolve_db_path
    from ..session import ChatSession

    app.session = ChatSession(resolve_db_path(app.db_flag), config, config.user_id)
    app.session.approve = app.tools.approvals()  # tools other than the safe builtins ask first
    try:
        await app.session.open()  # also marks replies a crashed run left streaming
    except (AgentError, OSError) as exc:
        await app.chat_pane.show(None, [], False, extra=[Notice(f"Could not open the database: {exc}")])
        return
    await app.panels.restore_state()
    await app.screen_main.threads.reload_threads()
    app.database_ready()
    # the last thread, at its end, with its draft (unless a thread was chosen in the list already)
    await app.drafts.reopen(app.fresh_start or app.screen_main.threads.chosen_early)
    if app.current_thread_id is None:
        await app.screen_main.turns.show_welcome()
    if app.freeze_gc:
        import gc

        # What exists now (Textual, the engine's modules, the first screen) lives as long as the
        # app: frozen, a full collection no longer walks it (measured: 80 ms pauses down to 50).
        gc.freeze()
        from .idle_gc import IdleCollector

        app.idle_gc = IdleCollector(app)
        app.idle_gc.start()
    app.run_worker(app.screen_main.turns.check_provider, name="provider-check", exit_on_error=False)
    # The engine, the job queue and the HTTP client load (once, mostly in threads) right after
    # this frame, so the first Enter sends at once (~0.4 s of CPU, spent once per session).
    app.call_after_refresh(lambda: None if app.warm_up() else None)  # not awaited: the UI goes on


async def load_config_safely(app: AiAgentsApp) -> AppConfig:
    """The settings, read in a thread; a broken file says why and the defaults are used."""
    from ..errors import ConfigError

    try:
        # in a thread: pydantic's import and the file read (~90 ms) would hold up the sidebar
        return await asyncio.to_thread(lambda: app.config)
    except ConfigError as exc:
        from ..config import AppConfig

        app.notify(str(exc), severity="error", timeout=15)
        app._config = AppConfig()
        return app._config
