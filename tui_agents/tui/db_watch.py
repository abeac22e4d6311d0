"""The sidebar and the open thread follow what other processes write to the database: `aiagents-tui ask` in
another terminal, a second app on the same file.

SQLite's ``PRAGMA data_version`` changes for a connection when another connection has committed; the
app's own writes leave it alone. One look every ``POLL_SECONDS`` costs a fraction of a millisecond.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .app import AiAgentsApp

__all__ = ["POLL_SECONDS", "DatabaseWatch"]

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0


class DatabaseWatch:
    """Reloads the sidebar's threads (marking those another process wrote to), and shows the open thread's new
    messages, after another process has committed to the database."""

    def __init__(self, app: AiAgentsApp) -> None:
        self.app = app
        self._version: int | None = None
        self._owed = False  # the open thread is to be compared with the store once its own turn has ended

    async def start(self) -> None:
        """Note the version now (the sidebar was read at start-up, moments ago), then look every ``POLL_SECONDS``."""
        self._version = await self._read()
        self.app.set_interval(POLL_SECONDS, self._tick, name="db-watch")

    async def _read(self) -> int | None:
        session = self.app.session
        if session is None or session.stores is None:
            return None
        try:
            return await session.data_version()
        except Exception:  # noqa: BLE001 - the database is closing, or busy: the next look will tell
            log.debug("Could not read the database's data_version.", exc_info=True)
            return None

    async def _tick(self) -> None:
        version = await self._read()
        if version is None:
            return
        changed = self._version is not None and version != self._version
        self._version = version
        threads = self.app.screen_main.threads
        if changed:
            tree = self.app.sidebar.tree
            before = None if tree.show_archived else tree.updated_times()
            await threads.reload_threads()
            if before is not None and not tree.show_archived:
                self.app.background.written_elsewhere(before, tree.updated_times())
        if changed or self._owed:  # owed: the open thread's own turn was writing, and others may have too
            self._owed = not await threads.follow_outside_writes()
        elif threads.shows_outside_stream() and await self._writer_gone():
            await threads.follow_outside_writes()  # its reply, marked interrupted, says so

    async def _writer_gone(self) -> bool:
        """Quiet while the open thread shows a reply another process streams: if that process is gone (killed
        mid-reply), mark its reply interrupted, as start-up does; whether it was."""
        session = self.app.session
        if session is None or session.stores is None:
            return False
        try:
            return bool(await session.messages.recover_unfinished())
        except Exception:  # noqa: BLE001 - the database is closing, or busy: the next look will tell
            log.debug("Could not check the writers of streaming replies.", exc_info=True)
            return False
