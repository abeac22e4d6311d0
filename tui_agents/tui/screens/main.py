"""The chat screen: title bar, thread sidebar, chat pane, composer, a right-hand panel slot and the status bar.

It owns the chat's workflows: its actions and message handlers hand them to
``ThreadController`` (open, page, search, fork, branch, rename, archive,
delete) and ``TurnController`` (send, stop, retry, regenerate, model), and to
the app's ``PanelController`` for the right-hand panels.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static

from .. import actions
from ..layout import NarrowLayout
from ..startup import later, sidebar_shown
from ..widgets.chat_pane import ChatPane
from ..widgets.composer import Composer
from ..widgets.sidebar import Sidebar, page_records
from ..widgets.status_bar import StatusBar

if TYPE_CHECKING:  # pragma: no cover
    from ..app import AiAgentsApp
    from ..widgets.message import Notice  # the chat's widgets: they load after the first frame
    from ..widgets.thread_tree import SearchBox, ThreadTree
    from ..widgets.welcome import Welcome
    from ..local_models import LocalModelsController
    from ..threads import ThreadController
    from ..turns import TurnController

__all__ = ["MainScreen", "TitleBar"]


class TitleBar(Static):
    """The top line: the app's name and the open thread's title."""

    title: str | None = None
    origin: str = ""
    usage: str = ""

    def set_thread_title(self, title: str | None) -> None:
        """Show ``title`` (None: no thread, which also forgets the origin and the totals)."""
        self.title = title
        if title is None:
            self.origin = ""
            self.usage = ""
        self._draw()

    def set_origin(self, origin: str) -> None:
        """Show where the open thread came from ("forked from ..."; "" for an original)."""
        self.origin = origin
        self._draw()

    def set_usage(self, usage: str) -> None:
        """Show the thread's totals after its title ("" hides them)."""
        self.usage = usage
        self._draw()

    def _draw(self) -> None:
        text = Text("aiagents-tui", style="bold", no_wrap=True, overflow="ellipsis")
        if self.title:
            text.append("  ·  ")
            text.append(self.title)
        if self.origin:
            text.append("  ·  ")
            text.append(self.origin, style="italic")
        if self.usage:
            text.append(f"  ·  {self.usage}", style="dim")
        self.update(text)


class MainScreen(Screen):
    """Sidebar | chat (+ composer) | optional right panel, over a status bar."""

    # The default screen's CSS_PATH is not loaded by Textual, so its stylesheet comes in as default CSS.
    DEFAULT_CSS = (Path(__file__).with_name("main.tcss")).read_text(encoding="utf-8")

    BINDINGS = actions.bindings("chat")  # declared once, with the palette entries, in actions.py

    app: AiAgentsApp  # type: ignore[assignment]

    # The workflows: made (and imported) at first use, right after the first frame.
    threads: ThreadController = later(".threads", "ThreadController")  # open, page, search, fork, ...
    turns: TurnController = later(".turns", "TurnController")  # send, stop, retry, regenerate, model
    local: LocalModelsController = later(".local_models", "LocalModelsController")  # models, images, thinking

    def __init__(self, format_time) -> None:
        super().__init__()
        self.format_time = format_time
        self._panel: Widget | None = None
        self._slot: Widget | None = None
        self._slot_mounted: Any = None
        self.sidebar_hidden_at_start = False
        self.narrow_layout = NarrowLayout(self)

    def compose(self) -> ComposeResult:
        self.narrow_layout.start(self.app.size.width)
        title = TitleBar(id="title-bar", markup=False)
        title.set_thread_title(None)
        yield title
        # The bars and side columns are split off the screen's edges in this order (main.tcss), so the
        # chat needs no containers around it: two widgets less in the first frame (~15 M instructions each).
        yield StatusBar(self.app.cli_provider or "", self.app.cli_model or "", id="status")
        # A sidebar the settings hide is hidden in the first frame already (no list drawn, then hidden).
        self.sidebar_hidden_at_start = not sidebar_shown(self.app)
        # The newest threads, read at launch, are in the first frame (as text; the tree follows at once).
        shown = not (self.narrow_layout.narrow or self.sidebar_hidden_at_start)
        page = self.app.first_page.rows(wait=0.1) if shown else None
        yield Sidebar(page_records(page) if page else None, self.app.size.height - 6, id="sidebar",
                      classes="-hidden" if self.sidebar_hidden_at_start else "")
        yield ChatPane(self.format_time, id="chat")  # the chat column: what the splits leave
        yield Composer(id="composer")  # docked at its bottom (under the attachments, if any)
        # The right-hand panel's slot (hidden until a panel opens) is mounted right after the first frame.

    def on_mount(self) -> None:
        self.query_one(Composer).focus()
        self.call_after_refresh(self.panel_slot)

    async def _mounted_slot(self) -> Widget:
        slot = self.panel_slot()
        if not slot.is_mounted:  # a panel asked for in the first moments
            await self._slot_mounted
        return slot

    def panel_slot(self) -> Widget:
        """The right-hand panel's slot, last in the screen (mounted once, right after the first frame)."""
        if self._slot is None:
            self._slot = Vertical(id="right-panel")
            self._slot_mounted = self.mount(self._slot)
        return self._slot

    def on_resize(self, event: Any) -> None:
        self.narrow_layout.resized(event.size.width)

    def on_descendant_focus(self, event: Any) -> None:
        self.narrow_layout.focus_moved(event.widget)

    def on_text_area_changed(self, event: Any) -> None:
        if self.has_class("-panel-over") and self._panel is not None:
            self.call_after_refresh(self.narrow_layout.clear_composer)  # the composer may have grown

    async def on_key(self, event: events.Key) -> None:
        """A key no widget took never goes to nowhere: a letter that is no command lands in the composer."""
        focused = self.focused
        # Keys typed before the first frame reach the screen with nothing focused; one reaching here while
        # the composer is focused is one of them (the composer stops the keys it takes).
        early = focused is None or isinstance(focused, Composer)
        # An Enter typed before the app set the terminal up arrives as a line feed (ctrl+j); one reaching here
        # was not taken by the composer (it takes ctrl+j as a new line), so it came while nothing had focus.
        if early and event.key in ("enter", "ctrl+j"):
            event.stop()
            self.query_one(Composer).focus()
            await self.query_one(Composer).run_action("submit")
            return
        if not event.is_printable or not event.character or event.key in self.active_bindings:
            return  # a command of the focused widget (e.g. the inspector's c, y, s): Textual runs it next
        event.stop()
        from ..widgets.thread_tree import SearchBox, SearchResults  # loaded with the sidebar's tree by now

        if isinstance(focused, SearchResults):  # typing on refines the search
            search = self.query_one(SearchBox)
            self.set_focus(search)
            search.call_later(self._type_at_end, search, event.character)  # after its focus selected all
            return
        composer = self.query_one(Composer)
        composer.focus()
        composer.insert(event.character)

    @staticmethod
    def _type_at_end(search: SearchBox, text: str) -> None:
        search.cursor_position = len(search.value)
        search.insert_text_at_cursor(text)

    def on_screen_resume(self) -> None:
        # Back from any dialog or screen: typing goes to the composer, never to a widget left focused.
        self.query_one(Composer).focus()

    def set_thread_title(self, title: str | None) -> None:
        """Show the open thread's title (None: no thread) in the title bar."""
        self.query_one(TitleBar).set_thread_title(title)

    def set_origin(self, origin: str) -> None:
        """Show where the open thread came from in the title bar ("" for an original)."""
        self.query_one(TitleBar).set_origin(origin)

    def set_thread_usage(self, usage: str) -> None:
        """Show the open thread's token and cost totals in the title bar."""
        self.query_one(TitleBar).set_usage(usage)

    # ---- the right-hand panel slot

    @property
    def panel(self) -> Widget | None:
        """The widget in the right-hand panel, if one is shown."""
        return self._panel

    async def show_panel(self, widget: Widget) -> None:
        """Show ``widget`` in the right-hand panel (replacing what was there)."""
        slot = await self._mounted_slot()
        await slot.remove_children()
        await slot.mount(widget)
        slot.add_class("-open")
        self.narrow_layout.fit_panel()
        self._panel = widget

    async def hide_panel(self) -> None:
        """Close the right-hand panel."""
        slot = await self._mounted_slot()
        await slot.remove_children()
        slot.remove_class("-open")
        self._panel = None
        self.query_one(Composer).focus()

    # ---- messages from the widgets

    async def on_composer_submitted(self, event: Composer.Submitted) -> None:
        if not self.app.drafts.reopened:
            # Sent before start-up finished: wait for it in a worker, since waiting here would hold up this
            # screen's messages and with them the refresh the start-up waits for (the app would never start).
            self.run_worker(partial(self.turns.submit, event.text), group="early-send", exclusive=True,
                            exit_on_error=False)
            return
        await self.turns.submit(event.text)

    async def on_composer_paths_pasted(self, event: Composer.PathsPasted) -> None:
        await self.local.attach_paths(event.paths)

    def on_thread_tree_rows_shown(self, event: ThreadTree.RowsShown) -> None:
        self.threads.rows_shown(event)

    def on_sidebar_view_changed(self, event: Sidebar.ViewChanged) -> None:
        self.threads.view_changed(event)

    def on_sidebar_thread_chosen(self, event: Sidebar.ThreadChosen) -> None:
        self.narrow_layout.hide_overlay()
        self.threads.thread_chosen(event)

    async def on_sidebar_search_requested(self, event: Sidebar.SearchRequested) -> None:
        await self.threads.search(event)

    async def on_chat_pane_load_older(self, event: ChatPane.LoadOlder) -> None:
        await self.threads.load_older(event)

    async def on_chat_pane_load_newer(self, event: ChatPane.LoadNewer) -> None:
        await self.threads.load_newer(event)

    async def on_chat_pane_jump_to_end(self, event: ChatPane.JumpToEnd) -> None:
        await self.threads.jump_to_end(event)

    def on_chat_pane_left(self, event: ChatPane.Left) -> None:
        self.query_one(Composer).focus()

    def on_chat_pane_menu_requested(self, event: ChatPane.MenuRequested) -> None:
        self.threads.menu(event)

    def on_notice_retry(self, event: Notice.Retry) -> None:
        if event.thread_id == self.app.current_thread_id:
            self.run_worker(self.turns.retry, exit_on_error=False)

    def on_welcome_retry(self, event: Welcome.Retry) -> None:
        self.run_worker(self.turns.retry, exit_on_error=False)

    async def on_memory_panel_strategy_changed(self, event: Any) -> None:
        self.app.panels.strategy_changed(event.strategy, event.params)

    # ---- actions (keys and palette entries in actions.py)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop_reply":
            return self.turns.running(self.app.current_thread_id)
        if action == "hide_sidebar_overlay":
            return self.narrow_layout.overlay_open
        return True

    def action_chat_cursor(self, delta: int) -> None:
        self.query_one(ChatPane).action_cursor(delta)

    def action_stop_reply(self) -> None:
        """Stop the streaming reply of the open thread; the partial text is kept."""
        self.turns.stop()

    async def action_new_thread(self) -> None:
        """Start a new chat."""
        await self.threads.new_chat()

    def action_focus_search(self) -> None:
        """Focus the sidebar's search box."""
        self.narrow_layout.reveal()
        self.threads.focus_search()

    def action_clear_search(self) -> None:
        self.threads.clear_search()

    def action_toggle_sidebar(self) -> None:
        """Show or hide the sidebar (over the chat on a narrow terminal)."""
        if not self.narrow_layout.toggle_sidebar():
            self.threads.toggle_sidebar()
            self.narrow_layout.fit_panel()

    def action_hide_sidebar_overlay(self) -> None:
        """Hide the sidebar shown over the chat."""
        self.narrow_layout.hide_overlay()

    def action_toggle_archived(self) -> None:
        self.threads.toggle_archived()

    async def action_retry(self) -> None:
        """Retry the open thread's failed reply, or check the provider again."""
        await self.turns.retry()

    async def action_regenerate(self) -> None:
        """Answer the last user message again in place; the old reply stays as another version."""
        await self.turns.regenerate()

    async def action_alternative(self, delta: int) -> None:
        """Show the previous or next version of the selected (or last) reply."""
        from ..alternatives import switch_alternative

        await switch_alternative(self, delta)

    def action_pick_model(self) -> None:
        """Choose provider and model for the open thread (or new chats)."""
        self.turns.pick_model()

    async def action_previous_thread(self) -> None:
        await self.threads.previous()

    async def action_next_thread(self) -> None:
        await self.threads.next()

    async def action_fork_thread(self) -> None:
        """Fork the target thread and open the copy."""
        await self.threads.fork()

    def action_rename_thread(self) -> None:
        self.threads.rename()

    async def action_archive_thread(self) -> None:
        await self.threads.archive()

    def action_delete_thread(self) -> None:
        self.threads.delete()

    async def action_undo_delete(self) -> None:
        await self.threads.undo_delete()

    def action_empty_trash(self) -> None:
        self.threads.empty_trash()

    async def action_toggle_inspector(self) -> None:
        """Show or hide the tool-call inspector of the open thread."""
        await self.app.panels.toggle_inspector()

    async def action_toggle_memory_panel(self) -> None:
        """Show or hide the memory panel of the open thread."""
        await self.app.panels.toggle_memory()

    def action_toggle_thoughts(self) -> None:
        """Show or hide the model's thoughts in every reply."""
        self.local.toggle_thoughts()

    def action_expand_thoughts(self) -> None:
        """Open or fold the thoughts of the selected (or last) reply."""
        self.local.expand_thoughts()

    async def action_models(self) -> None:
        """Open the Ollama models screen: list, details, pull, delete."""
        await self.local.open_models()

    def action_attach_image(self) -> None:
        """Attach images to the next message (a path prompt with completion)."""
        self.local.ask_attach()

    def action_thinking_settings(self) -> None:
        """Turn thinking on or off for the chat's model."""
        self.local.thinking_settings()

    def action_export_thread(self, fmt: str | None = None) -> None:
        """Export the open thread (``md`` or ``json``; None asks which)."""
        self.app.panels.export_thread(fmt)
