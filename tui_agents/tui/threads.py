"""The thread workflows of the chat screen: open, page, search, list, fork, branch, rename, archive, delete.

``ThreadController(app)`` is owned by ``MainScreen``; the screen's actions and
message handlers call it. It reads and writes threads only through the
engine's ``ChatSession`` (``app.session``).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from contextlib import suppress
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.css.query import NoMatches
from textual.widget import Widget

from .widgets.alternatives import origin_text
from .widgets.chat_pane import FIRST_PAGE, NEWER_PAGE, OLDER_PAGE, ChatPane
from .widgets.message import Notice, code_blocks
from .widgets.sidebar import SIDEBAR_PAGE, Sidebar, ThreadTree, first_words, page_records

if TYPE_CHECKING:  # pragma: no cover
    from .app import AiAgentsApp
    from .screens.main import MainScreen
    from .turns import TurnController

__all__ = ["ThreadController"]


class ThreadController:
    """Threads in the sidebar and the chat pane."""

    def __init__(self, screen: MainScreen) -> None:
        self.screen = screen
        self._previews: dict[str, str] = {}  # thread id -> first words of its first user message
        self._trash: list[str] = []
        self.chosen_early = False  # a thread was chosen before start-up reopened the last one: that one stays shut

    @property
    def app(self) -> AiAgentsApp:
        return self.screen.app

    @property
    def turns(self) -> TurnController:
        return self.screen.turns

    def remember_preview(self, thread_id: str, text: str) -> str:
        """Label an untitled new thread with the first words of its first message; returns the label."""
        self._previews[thread_id] = first_words(text)
        return self._previews[thread_id]

    async def show_first_page(self, page: Future[Any], wait: float = 0.25) -> bool:
        """Draw the sidebar's first page read at launch (``store.threads.first_page``); False if there is none.

        Waits up to ``wait`` seconds for the read; the full list follows from the store (``reload_threads``).
        """
        try:
            found = await asyncio.wait_for(asyncio.wrap_future(page), wait)
        except Exception:  # slow or failed: the store's path draws the list
            found = None
        sidebar = self.app.sidebar
        await sidebar.fill()  # then no await until the rows are in: the tree's first paint has them
        if not found or self.app.session is not None:
            sidebar.end_preview()
            return False
        nodes, labels = found
        self._previews.update({t: first_words(text) for t, text in labels.items()})
        sidebar.tree.set_threads(page_records(found))
        sidebar.end_preview()  # the tree takes the place of the first frame's rows, in one frame
        return bool(nodes)

    async def reload_threads(self) -> None:
        """Re-read the sidebar's threads (active or archived view)."""
        if self.app.session is None or self.app.session.stores is None or not self.app.is_running:
            return
        await self.app.sidebar.filled()
        tree = self.app.sidebar.tree
        if tree.show_archived:
            nodes = [dict(t, parent_id=None, depth=0) for t in await self.app.session.threads.list_archived()]
        else:
            nodes = await self.app.session.threads.tree()
        await self._label_drawn(nodes, self.app.current_thread_id)
        for node in nodes:
            if not node.get("title") and node["id"] in self._previews:
                node["preview"] = self._previews[node["id"]]
        tree.set_threads(nodes, keep=self.app.current_thread_id)
        self.app.sidebar.end_preview()
        current = next((n for n in nodes if n["id"] == self.app.current_thread_id and n.get("title")), None)
        if current is not None:  # e.g. the title job named the open thread: the title bar says so too
            self.screen.set_thread_title(self.thread_title(current))

    async def _label_drawn(self, nodes: list[dict[str, Any]], thread_id: str | None) -> None:
        """Look up the first words of the untitled threads the tree is about to draw (the first page, or the rows
        down to half a page below ``thread_id``, which its cursor brings in), so none is drawn as "New chat" first."""
        at = next((i for i, node in enumerate(nodes) if node["id"] == thread_id), 0)
        drawn = nodes[:max(SIDEBAR_PAGE, at + SIDEBAR_PAGE // 2 + 1)]  # as ThreadTree.select_thread draws them
        missing = [node["id"] for node in drawn if not node.get("title") and node["id"] not in self._previews]
        if missing:
            await self._load_previews(missing)

    def rows_shown(self, event: ThreadTree.RowsShown) -> None:
        missing = [t["id"] for t in event.threads if not t.get("title") and not t.get("preview")]
        if missing:
            self.app.run_worker(partial(self._load_previews, missing), group="previews", exit_on_error=False)

    async def _load_previews(self, thread_ids: list[str]) -> dict[str, str]:
        """Look up (and remember) the first words of untitled threads, and label them in the sidebar."""
        wanted = [t for t in thread_ids if t not in self._previews]
        if wanted and self.app.session is not None and self.app.session.stores is not None:
            texts = await self.app.session.first_user_texts(wanted)
            self._previews.update({t: first_words(text) for t, text in texts.items()})
        found = {t: self._previews[t] for t in thread_ids if t in self._previews}
        with suppress(NoMatches):  # the app may be closing
            self.app.sidebar.tree.set_previews(found)
        return found

    def view_changed(self, event: Sidebar.ViewChanged) -> None:
        self.app.sidebar.set_mode("Archived threads (v: back)" if event.archived else "Threads")
        self.app.run_worker(self.reload_threads, exit_on_error=False)

    def thread_chosen(self, event: Sidebar.ThreadChosen) -> None:
        early = not self.app.drafts.reopened  # chosen in the list drawn at launch: it opens once start-up is done
        self.chosen_early = self.chosen_early or early
        self.app.run_worker(partial(self._open_chosen, event.thread_id, event.message_id, early), exclusive=True,
                            group="open", exit_on_error=False)

    async def _open_chosen(self, thread_id: str, message_id: str | None, early: bool) -> None:
        if early:
            await self.app.drafts.wait_reopened()
        await self.open_and_type(thread_id, message_id)

    async def open_and_type(self, thread_id: str, message_id: str | None = None) -> None:
        """Open a thread and put the focus in the composer, so what the user types next is never lost."""
        await self.open_thread(thread_id, message_id)
        self.app.composer.focus()

    async def search(self, event: Sidebar.SearchRequested) -> None:
        await self.app.wait_ready()
        assert self.app.session is not None
        from ..errors import AgentError

        try:
            hits = await self.app.session.search(event.query, limit=50, order=event.order)
        except AgentError as exc:
            self.app.notify(str(exc), severity="warning")
            return
        untitled = list(dict.fromkeys(h["thread_id"] for h in hits if not h.get("thread_title")))
        if untitled:
            previews = await self._load_previews(untitled)
            hits = [h if h.get("thread_title") else {**h, "thread_title": previews.get(h["thread_id"])} for h in hits]
        await self.app.sidebar.show_hits(event.query, hits)

    def clear_search(self) -> None:
        """Clear the search and return to the composer."""
        self.app.sidebar.end_search()
        self.app.composer.focus()

    async def open_thread(self, thread_id: str, message_id: str | None = None) -> None:
        """Show a thread in the chat pane (at ``message_id`` when given)."""
        await self.app.wait_ready()
        # One screen update for the switch: unbatched, the composer's new draft was painted while the
        # messages were read, and the pane's layout then waited up to a frame (17 ms) for the next one.
        with self.app.batch_update():
            thread = await self._show_thread(thread_id, message_id)
        self.screen.check_idle()  # the end of a batch prompts only the app; the screen starts its update here
        state = self.app.turns.get(thread_id)
        if state is not None and state.running:
            view = await self.app.chat_pane.add_message(
                {"role": "assistant", "model": state.model, "created_at": state.started_at, "id": state.reply_id},
                streaming=True)
            view.feed(state.text)
            state.view = view
            await self.turns.attach_working(state)
        await self._label_drawn(self.app.sidebar.tree.records, thread_id)  # the rows the tree's cursor brings in
        self._after_show(thread, message_id)

    async def _show_thread(self, thread_id: str, message_id: str | None) -> dict[str, Any]:
        """Read the thread and fill the chat pane with it; returns the thread."""
        assert self.app.session is not None
        session = self.app.session
        thread = await session.threads.get(thread_id)
        self.app.composer.switch_draft(thread_id)
        self.app.current_thread_id = thread_id
        records: list[dict[str, Any]]
        has_newer = False
        if message_id:
            hit = await session.messages.get(message_id)
            records = await session.messages.list(thread_id, limit=FIRST_PAGE * 2, before=hit["position"] + 6)
            has_newer = bool(records) and records[-1]["position"] < await self._last_position(thread_id)
        else:
            records = await session.messages.list(thread_id, limit=FIRST_PAGE)
        state = self.app.turns.get(thread_id)
        if state is not None and state.running and state.reply_id:
            records = [r for r in records if r["id"] != state.reply_id]
        pane = self.app.chat_pane
        pane.provider = thread.get("provider")
        extra: list[Widget] = []
        if state is not None and not state.running and state.status == "error" and state.error is not None:
            extra.append(Notice(str(state.error), thread_id=thread_id))
        pane.alternatives = await session.messages.alternative_slots(thread_id)
        if not thread.get("title") and thread_id not in self._previews:
            await self._load_previews([thread_id])
        origin = await session.threads.origin(thread_id) if thread.get("forked_from") else None
        await pane.show(thread_id, records, has_older=len(records) >= FIRST_PAGE, extra=extra, has_newer=has_newer,
                        keep=message_id)
        self.screen.set_thread_title(self.thread_title(thread))
        self.screen.set_origin(origin_text(origin))
        return thread

    def _after_show(self, thread: dict[str, Any], message_id: str | None) -> None:
        """The status line, the counts after the first paint, the sidebar's cursor and the shown message."""
        thread_id = thread["id"]
        pane = self.app.chat_pane
        self.turns.update_status(thread)
        self.app.status_bar.context_used = None
        self.app.call_after_refresh(self._count_after_paint, thread)
        self.app.sidebar.tree.select_thread(thread_id)
        if message_id:
            view = pane.find(message_id)
            if view is not None:
                pane.release_anchor()
                pane.call_after_refresh(pane.scroll_to_widget, view, animate=False, top=True)
                view.add_class("-selected")

    def _count_after_paint(self, thread: dict[str, Any]) -> None:
        """The thread's usage totals and context count: their queries wait for the first paint of the thread."""
        if self.app.current_thread_id != thread["id"]:
            return  # the user has moved on
        # partials, not coroutines: a worker cancelled before it starts leaves none unawaited
        self.app.run_worker(partial(self.turns.show_thread_usage, thread["id"]), group="thread-usage",
                            exclusive=True, exit_on_error=False)
        self.turns.show_context_of(thread)

    async def load_older(self, event: ChatPane.LoadOlder) -> None:
        if self.app.session is None or self.app.session.stores is None:
            return
        records = await self.app.session.messages.list(event.thread_id, limit=OLDER_PAGE, before=event.before)
        with suppress(NoMatches):  # the app may be closing
            if self.app.chat_pane.thread_id == event.thread_id:
                await self.app.chat_pane.prepend(records, has_older=len(records) >= OLDER_PAGE)

    async def _last_position(self, thread_id: str) -> int:
        assert self.app.session is not None
        last = await self.app.session.messages.list(thread_id, limit=1)
        return last[0]["position"] if last else -1

    async def _messages_after(self, thread_id: str, after: int, count: int) -> list[dict[str, Any]]:
        """Up to ``count`` messages after position ``after`` (positions may have gaps: the window widens)."""
        assert self.app.session is not None
        last = await self._last_position(thread_id)
        span = count
        while after < last:
            records = await self.app.session.messages.list(thread_id, limit=span, before=after + 1 + span)
            newer = [r for r in records if r["position"] > after]
            if newer:
                return newer[:count]
            span *= 4
        return []

    async def load_newer(self, event: ChatPane.LoadNewer) -> None:
        if self.app.session is None or self.app.session.stores is None:
            return
        records = await self._messages_after(event.thread_id, event.after, NEWER_PAGE)
        has_newer = bool(records) and records[-1]["position"] < await self._last_position(event.thread_id)
        with suppress(NoMatches):  # the app may be closing
            if self.app.chat_pane.thread_id == event.thread_id:
                await self.app.chat_pane.append_newer(records, has_newer=has_newer)

    async def jump_to_end(self, event: ChatPane.JumpToEnd) -> None:
        if self.app.current_thread_id == event.thread_id:
            await self.open_thread(event.thread_id)

    async def reload_current_thread(self) -> None:
        """Re-read the open thread from the store."""
        if self.app.current_thread_id:
            await self.open_thread(self.app.current_thread_id)

    def shows_outside_stream(self) -> bool:
        """Whether the open thread shows a reply that another process is still streaming."""
        return any(view.record.get("status") == "streaming" and "position" in view.record
                   for view in self.app.chat_pane.views)

    async def follow_outside_writes(self) -> bool:
        """Show what another process (`ask --continue`, a second app) wrote to the open thread: its new messages
        at the end, and a reply it streams, as it stands now. The reader's place and the draft stay as they are;
        a window paged away from the end gets the new messages when it scrolls there.

        Returns False when this app's own turn is writing to the open thread: the caller asks again later.
        """
        thread_id, pane, session = self.app.current_thread_id, self.app.chat_pane, self.app.session
        state = self.app.turns.get(thread_id) if thread_id else None
        if state is not None and state.running:
            return False
        if not thread_id or session is None or pane.thread_id != thread_id:
            return True  # nothing open
        records = await session.messages.list(thread_id, limit=NEWER_PAGE)
        if self.app.current_thread_id != thread_id or pane.thread_id != thread_id:
            return True  # the user moved on meanwhile
        views = {view.message_id: view for view in pane.views}
        last = max((view.record.get("position", -1) for view in views.values()), default=-1)
        changed = False
        for record in records:
            view = views.get(record["id"])
            if view is None and record["position"] > last and not pane.has_newer:
                await pane.add_message(record)
                changed = True
            elif view is not None and "position" in view.record and _shown_differently(view.record, record):
                await pane.replace_message(view, record)
                changed = True
        if changed:
            self.app.call_after_refresh(self._count_after_paint, await session.threads.get(thread_id))
        return True

    def thread_title(self, thread: dict[str, Any]) -> str:
        from ..sanitize import sanitize

        return sanitize(thread.get("title") or self._previews.get(thread["id"]) or "New chat").replace("\n", " ")

    async def new_chat(self) -> None:
        """Start a new chat."""
        self.app.composer.switch_draft(None)
        self.app.current_thread_id = None
        self.screen.set_thread_title(None)
        self.turns.update_status()
        self.turns.show_context_of(None)
        await self.turns.show_welcome()
        self.app.composer.focus()

    def focus_search(self) -> None:
        """Focus the sidebar's search box."""
        self.app.sidebar.remove_class("-hidden")
        self.app.sidebar.query_one("#search").focus()

    def toggle_sidebar(self) -> None:
        """Show or hide the sidebar."""
        self.app.sidebar.toggle_class("-hidden")
        if self.app.sidebar.has_class("-hidden"):
            self.app.composer.focus()

    def toggle_archived(self) -> None:
        self.app.sidebar.tree.action_toggle_archived()

    async def step(self, delta: int) -> None:
        ids = self.app.sidebar.tree.thread_ids()
        if not ids:
            return
        if self.app.current_thread_id in ids:
            index = (ids.index(self.app.current_thread_id) + delta) % len(ids)
        else:
            index = 0 if delta > 0 else len(ids) - 1
        await self.open_and_type(ids[index])

    async def previous(self) -> None:
        await self.step(-1)

    async def next(self) -> None:
        await self.step(1)

    def _target_thread(self) -> dict[str, Any] | None:
        """The thread a sidebar action applies to: the tree's cursor when focused, else the open one."""
        tree = self.app.sidebar.tree
        if self.app.focused is tree:
            return tree.selected_thread()
        if self.app.current_thread_id:
            return {"id": self.app.current_thread_id}
        return None

    async def fork(self) -> None:
        """Fork the target thread and open the copy."""
        target = self._target_thread()
        if target is None or self.app.session is None:
            return
        fork = await self.app.session.fork(target["id"])
        await self.reload_threads()
        await self.open_and_type(fork["id"])
        self.app.notify("Forked the thread.")

    def rename(self) -> None:
        """Rename the target thread."""
        from .screens.dialogs import TextPromptScreen

        target = self._target_thread()
        if target is None or self.app.session is None:
            return
        backend = self.app.session

        async def done(title: str | None) -> None:
            if title and title.strip():
                thread = await backend.threads.rename(target["id"], title.strip())
                self.app.sidebar.tree.update_thread(thread)
                if thread["id"] == self.app.current_thread_id:
                    self.screen.set_thread_title(self.thread_title(thread))

        current = target.get("title") or ""
        self.app.push_screen(TextPromptScreen("Rename thread", current), done)

    async def archive(self) -> None:
        """Archive the target thread, or unarchive it in the archived view."""
        target = self._target_thread()
        if target is None or self.app.session is None:
            return
        thread = await self.app.session.threads.get(target["id"])
        if thread.get("archived_at"):
            await self.app.session.threads.unarchive(thread["id"])
            self.app.notify("Unarchived the thread.")
        else:
            await self.app.session.threads.archive(thread["id"])
            self.app.notify("Archived the thread (v in the sidebar shows archived threads).")
        await self.reload_threads()

    def delete(self) -> None:
        """Move the target thread to the trash, after a confirmation."""
        from .screens.dialogs import ConfirmScreen

        target = self._target_thread()
        if target is None or self.app.session is None:
            return
        backend = self.app.session
        thread_id = target["id"]

        async def done(yes: bool | None) -> None:
            if not yes:
                return
            await backend.threads.trash(thread_id)
            self._trash.append(thread_id)
            if thread_id == self.app.current_thread_id:
                await self.new_chat()
            await self.reload_threads()
            self.app.notify("Moved the thread to the trash. Press u in the sidebar (or 'Undo delete' in ctrl+p) to "
                        "restore it.", timeout=10)

        self.app.push_screen(ConfirmScreen(f"Move “{self.thread_title(target)}” to the trash?", "Move to trash"), done)

    async def undo_delete(self) -> None:
        """Restore the thread moved to the trash last."""
        if not self._trash or self.app.session is None:
            self.app.notify("Nothing to undo.")
            return
        thread_id = self._trash.pop()
        await self.app.session.threads.restore(thread_id)
        await self.reload_threads()
        self.app.sidebar.tree.select_thread(thread_id)
        self.app.notify("Restored the thread.")

    def empty_trash(self) -> None:
        """Delete the threads in the trash for good."""
        from .screens.dialogs import ConfirmScreen

        backend = self.app.session
        if backend is None:
            return

        async def done(yes: bool | None) -> None:
            if yes:
                count = await backend.threads.empty_trash()
                self._trash.clear()
                self.app.notify(f"Deleted {count} thread(s) for good.")

        self.app.push_screen(ConfirmScreen("Delete every thread in the trash for good?", "Empty trash",
                                           enter_confirms=False), done)

    def menu(self, event: ChatPane.MenuRequested) -> None:
        from .screens.dialogs import MenuScreen

        view = event.view
        if not view.message_id:
            self.app.notify("This message is not saved yet.")
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

        self.app.push_screen(MenuScreen("Message", choices), chosen)

    async def _message_action(self, record: dict[str, Any], choice: str) -> None:
        assert self.app.session is not None
        thread_id = record.get("thread_id") or self.app.current_thread_id
        if choice == "branch" and thread_id:
            branch = await self.app.session.branch(thread_id, record["id"])
            await self.reload_threads()
            await self.open_and_type(branch["id"])
            self.app.notify("Branched from that message.")
        elif choice == "edit" and thread_id:
            from .screens.dialogs import TextPromptScreen

            async def resend(text: str | None) -> None:
                if text and text.strip():
                    await self.turns.edit_and_resend(thread_id, record, text)

            self.app.push_screen(TextPromptScreen("Edit and resend", record.get("content") or "", multiline=True), resend)
        elif choice == "copy":
            self.app.copy_to_clipboard(record.get("content") or "")
            self.app.notify("Copied the message.")
        elif choice.startswith("code:"):
            blocks = code_blocks(record.get("content") or "")
            index = int(choice.split(":", 1)[1]) - 1
            if 0 <= index < len(blocks):
                self.app.copy_to_clipboard(blocks[index])
                self.app.notify(f"Copied code block {index + 1}.")
        elif choice == "inspect":
            self.app.panels.inspect_message(record["id"])


_SHOWN_FIELDS = ("content", "status", "usage", "thinking", "images", "meta")


def _shown_differently(shown: dict[str, Any], stored: dict[str, Any]) -> bool:
    """Whether the stored message has moved on from the record its view was drawn from (a reply another process
    streamed further, or finished). Only views drawn from the store are compared: this app's own turns draw theirs
    as they stream."""
    return any(shown.get(field) != stored.get(field) for field in _SHOWN_FIELDS)
