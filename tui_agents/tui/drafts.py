"""Restart keeps your place: the last thread opens again, and each thread's unsent draft survives a restart.

``DraftKeeper`` (``app.drafts``) saves the composer's text per thread (``DraftStore``)
a moment after the typing stops, at once when the thread changes, and on quit; a
sent message clears it. It remembers the open thread (``StateStore.set_last_thread``),
and at start, after the first frame, reopens it scrolled to the end with the
composer focused. Keys typed before that keep their place in the composer.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from textual.css.query import NoMatches

if TYPE_CHECKING:  # pragma: no cover
    from textual.timer import Timer

    from .app import AiAgentsApp

__all__ = ["DraftKeeper", "SAVE_AFTER"]

log = logging.getLogger(__name__)

SAVE_AFTER = 0.5
"""Seconds without typing before the draft is written (a crash loses at most this much)."""

_UNSET = object()


def _join(draft: str, typed: str) -> str:
    """A saved draft followed by what was typed before it loaded (on a new line)."""
    if draft and typed and not draft.endswith("\n"):
        return f"{draft}\n{typed}"
    return draft + typed


class DraftKeeper:
    """Saves drafts and the open thread; reopens both at start."""

    def __init__(self, app: AiAgentsApp) -> None:
        self.app = app
        self._pending: dict[str | None, str] = {}
        self._last_thread: object = _UNSET
        self._shown: str | None = None  # the draft key the composer shows
        self._timer: Timer | None = None
        self._reopened = asyncio.Event()
        self._lock = asyncio.Lock()

    # ---- start

    async def reopen(self, fresh: bool) -> None:
        """Load the saved drafts and open the last thread (``fresh``: stay in a new chat).

        Keys typed meanwhile are kept: before the thread opens they go after its draft, later ones stay put.
        """
        app = self.app
        session = app.session
        try:
            if session is None:
                return
            composer = app.composer
            saved = await session.drafts().all()
            thread_id = None if fresh else await session.state().last_thread(app.user_id)
            composer.drafts.update({k: v for k, v in saved.items() if k not in composer.drafts})
            if thread_id is None:
                composer.load_text(_join(composer.drafts.pop(None, ""), composer.text))
                composer.move_cursor(composer.document.end)
                return
            draft = composer.drafts.get(thread_id, "")
            await app.screen_main.threads.open_and_type(thread_id)  # its switch keeps what was typed as drafts[None]
            typed = composer.drafts.pop(None, "")
            if saved.get(None):
                composer.drafts[None] = saved[None]
            if typed:
                after = composer.text[len(draft):] if composer.text.startswith(draft) else composer.text
                composer.load_text(_join(draft, typed) + after)
                composer.move_cursor(composer.document.end)
        finally:
            self._reopened.set()

    @property
    def reopened(self) -> bool:
        """Whether the start-up has reopened the last thread (until then a send waits for it)."""
        return self._reopened.is_set()

    async def wait_reopened(self) -> None:
        """Wait until the start-up reopened the last thread (a send waits, so it goes to that thread)."""
        await self._reopened.wait()

    # ---- while the app runs

    def text_changed(self) -> None:
        """The composer's text changed: save it a moment after the typing stops."""
        if not self._reopened.is_set():
            return  # typed before the drafts loaded: ``reopen`` keeps it
        try:
            composer = self.app.composer
        except NoMatches:  # a change that arrives while the app closes: the screen and its composer are gone
            return
        self._pending[composer.draft_key] = composer.text
        self._schedule(SAVE_AFTER)

    def thread_changed(self, thread_id: str | None) -> None:
        """The chat pane shows another thread: save the old one's draft now, and remember the new one."""
        old, self._shown = self._shown, thread_id
        self._last_thread = thread_id
        if not self._reopened.is_set():
            return  # ``reopen`` sets the drafts right; this thread is written with the next save
        if old != thread_id:
            self._pending[old] = self.app.composer.drafts.get(old, "")
        self._schedule(0)

    def _schedule(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if delay <= 0:
            self._flush_soon()  # now: a zero-delay Textual timer divides by zero and never fires
        else:
            self._timer = self.app.set_timer(delay, self._flush_soon)

    def _flush_soon(self) -> None:
        self.app.run_worker(self.flush, group="drafts", exit_on_error=False)  # a callable: no coroutine left unawaited

    async def flush(self) -> None:
        """Write what changed (on quit too)."""
        from ..errors import AgentError

        session = self.app.session
        if session is None or session.conn is None:
            return
        async with self._lock:
            pending, self._pending = self._pending, {}
            last, self._last_thread = self._last_thread, _UNSET
            try:
                drafts = session.drafts()
                for key, text in pending.items():
                    await drafts.set(key, text)
                if last is not _UNSET:
                    await session.state().set_last_thread(last, self.app.user_id)  # type: ignore[arg-type]
            except AgentError:  # e.g. the thread was deleted for good meanwhile: its draft went with it
                log.warning("Could not save a draft or the open thread.", exc_info=True)
