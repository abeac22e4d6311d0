"""Replies that stream while another thread is open: sidebar marks, and a question before quitting.

Each thread's turn runs in its own worker (``app.turns``), so switching
threads neither stops nor slows it; this module only tells the user about them:
the sidebar marks a thread whose reply streams (``⋯``) and one whose reply
finished while another thread was open, or that another process wrote to
(``●``, until it is opened).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from textual.css.query import NoMatches

if TYPE_CHECKING:  # pragma: no cover
    from .app import AiAgentsApp
    from .turns import TurnState

__all__ = ["BackgroundTurns"]

log = logging.getLogger(__name__)

#: How long quitting waits for stopped replies to be saved as interrupted.
SAVE_TIMEOUT = 5.0


class BackgroundTurns:
    """Marks streaming and unseen threads in the sidebar; asks before quitting while replies stream."""

    def __init__(self, app: AiAgentsApp) -> None:
        self.app = app
        self.unseen: set[str] = set()
        """Threads whose reply finished while another thread was open."""

    def streaming(self) -> list[TurnState]:
        """The turns whose reply is streaming now, in any thread."""
        return [state for state in self.app.turns.values() if state.running]

    def started(self, thread_id: str) -> None:
        """A reply began to stream in ``thread_id``."""
        self.unseen.discard(thread_id)
        self._mark(thread_id, "streaming")

    def ended(self, state: TurnState) -> None:
        """A reply ended (complete, stopped or failed): unseen unless its thread is the open one."""
        if state.thread_id == self.app.current_thread_id:
            self._mark(state.thread_id, None)
        else:
            self.unseen.add(state.thread_id)
            self._mark(state.thread_id, "unseen")

    def written_elsewhere(self, before: dict[str, float], after: dict[str, float]) -> None:
        """Threads another process (``ask``, a second app) added messages to, between two readings of the sidebar's
        ``updated_times``, are unseen like a reply that finished here in the background; the open thread shows
        them, and a thread with this app's own reply streaming keeps its mark."""
        for thread_id, updated in after.items():
            if updated <= before.get(thread_id, 0.0) or thread_id == self.app.current_thread_id:
                continue
            state = self.app.turns.get(thread_id)
            if state is None or not state.running:
                self.unseen.add(thread_id)
                self._mark(thread_id, "unseen")

    def seen(self, thread_id: str | None) -> None:
        """``thread_id`` is on screen now: its finished reply is seen."""
        if thread_id is not None and thread_id in self.unseen:
            self.unseen.discard(thread_id)
            self._mark(thread_id, None)

    def _mark(self, thread_id: str, activity: str | None) -> None:
        with suppress(NoMatches):  # the app is closing: no sidebar to mark
            self.app.sidebar.tree.set_activity(thread_id, activity)

    # ---- quitting

    async def quit(self) -> None:
        """Quit now, or, while replies stream, ask first; on yes they are stopped and saved as interrupted."""
        running = self.streaming()
        if not running:
            self.app.exit()
            return
        from .screens.dialogs import ConfirmScreen

        count = len(running)
        question = (f"{count} replies are still streaming." if count > 1 else "A reply is still streaming.")
        question += " Quit anyway? What arrived so far is saved, marked as interrupted."

        async def answered(yes: bool | None) -> None:
            if yes:
                await self.stop_all()
                await self._mark_quit(running)
                self.app.exit()

        self.app.push_screen(ConfirmScreen(question, yes="Quit"), answered)

    async def _mark_quit(self, states: list[TurnState]) -> None:
        """Say on each stopped reply that the user quit (not a stop of that reply)."""
        session = self.app.session
        if session is None or not states:
            return
        with suppress(Exception):  # quitting goes on; the replies keep the plain "stopped" wording
            await session.messages.mark_quit([s.thread_id for s in states], min(s.started_at for s in states))

    async def stop_all(self, timeout: float = SAVE_TIMEOUT) -> None:
        """Stop every streaming reply and wait (up to ``timeout`` s) until each saved what it had."""
        workers: list[Any] = [s.worker for s in self.streaming() if s.worker is not None]
        for worker in workers:
            worker.cancel()
        if not workers:
            return
        waits = [asyncio.ensure_future(_settled(worker)) for worker in workers]
        done, pending = await asyncio.wait(waits, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("%d stopped replies did not finish saving within %.0f s.", len(pending), timeout)


async def _settled(worker: Any) -> None:
    """Wait for a worker to end, however it ends."""
    with suppress(Exception, asyncio.CancelledError):
        await worker.wait()
