"""Tools in the app: the approval dialog before a tool acts, and MCP servers that fail (shown, with a retry).

``ToolAccess`` belongs to the app (``app.tools``). ``approvals()`` is the
session's ``approve=``: the safe builtins and ``[tools] always_allow`` run, any
other call opens ``ApprovalScreen``. The turn worker names its thread in
``turn_thread`` so the dialog can say which chat asks.
"""

from __future__ import annotations

import asyncio
import logging
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ..approvals import ToolApprovals
    from .app import AiAgentsApp

__all__ = ["ToolAccess", "failure_lines", "turn_thread"]

log = logging.getLogger(__name__)

#: The thread whose turn runs in the current task (set by the turn worker; each task has its own copy).
turn_thread: ContextVar[str | None] = ContextVar("turn_thread", default=None)

_STDERR_LINES = 4  # a toast, not a log: the log file has the whole tail


def failure_lines(error: Exception, stderr_tail: str | None) -> list[str]:
    """A tool server's failure for a toast: why (without the output the error's text repeats), then the
    last lines of its stderr."""
    tail = (stderr_tail or "").strip().splitlines()[-_STDERR_LINES:]
    return [getattr(error, "reason", None) or str(error), *tail]


class ToolAccess:
    """Asks the user before a tool runs; shows tool servers that failed and retries them."""

    def __init__(self, app: AiAgentsApp) -> None:
        self.app = app
        self.failed: dict[str, Any] = {}
        """The last ``ToolServerFailed`` told of each server, by name, until a retry: each failure is told once."""
        self.asking: dict[str | None, str] = {}
        """The tool the approval dialog asks about, by the asking turn's thread."""

    def approvals(self) -> ToolApprovals:
        """The ``approve=`` callable of the session's runners ("allow always" is saved in the config file)."""
        from ..approvals import ToolApprovals

        return ToolApprovals.from_config(self.app.config, ask=self.ask, path=self.app.config_path)

    async def ask(self, name: str, server: str | None, arguments: dict[str, Any]) -> str:
        """Open the approval dialog and wait for the answer ("once", "always" or "deny")."""
        from .screens.approval import ApprovalScreen

        answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def done(result: str | None) -> None:
            if not answer.done():
                answer.set_result(result or "deny")

        screen = ApprovalScreen(name, server, arguments, thread=await self._thread_label())
        thread_id = turn_thread.get()
        self._asking(thread_id, f"{name} ({server})" if server else name)
        self.app.push_screen(screen, done)
        try:
            return await answer
        except asyncio.CancelledError:
            # the turn was stopped (escape, quit) while the dialog was open: take the dialog away too
            if screen.is_attached and self.app.screen is screen:
                screen.dismiss("deny")
            raise
        finally:
            self._asking(thread_id, None)

    def _asking(self, thread_id: str | None, tool: str | None) -> None:
        """Note (None: forget) the tool the dialog asks about for ``thread_id``; its working line says so."""
        if tool is None:
            self.asking.pop(thread_id, None)
        else:
            self.asking[thread_id] = tool
        state = self.app.turns.get(thread_id) if thread_id else None
        working = getattr(state, "working", None)
        if working is not None and working.is_attached:
            working.update_state()

    async def _thread_label(self) -> str | None:
        """The asking thread's title (untitled: its first words) when it is not the one on screen (a reply
        streaming in the background)."""
        from ..labels import UNTITLED
        from .widgets.sidebar import first_words

        thread_id = turn_thread.get()
        if thread_id is None or thread_id == self.app.current_thread_id or self.app.session is None:
            return None
        try:
            thread = await self.app.session.threads.get(thread_id)
            if not thread.get("title"):
                texts = await self.app.session.first_user_texts([thread_id])
                return first_words(texts.get(thread_id, "")) or UNTITLED
        except Exception:  # noqa: BLE001 - a label only: the dialog still asks
            return thread_id
        return thread["title"]

    # ---- tool servers that fail

    def server_failed(self, event: Any) -> None:
        """Show a ``ToolServerFailed`` once per failure: its reason, the last lines of its stderr, and what next."""
        told = self.failed.get(event.server)
        if told is not None and told.error is event.error:
            return  # the same failure again (the next turn, another thread): said already
        self.failed[event.server] = event
        lines = failure_lines(event.error, event.stderr_tail)
        if self._state(event.server) not in ("failed", None):  # it died (and may run again already)
            lines.append("It starts again when a reply next uses it.")
            title = "Tool server stopped"
        else:
            lines.append("Replies go on without its tools; ctrl+p → \"Retry tool servers\" starts it again.")
            title = "Tool server failed"
        self.app.notify("\n".join(lines), title=title, severity="error", timeout=20, markup=False)

    def _state(self, name: str) -> str | None:
        """The state of the session's tool server ``name`` ("stopped", "failed"...), None if unknown."""
        session = self.app.session
        server = next((s for s in session.tool_servers() if s.name == name), None) if session else None
        return getattr(server, "state", None)

    def retry(self) -> None:
        """Let every failed tool server start again at its next use."""
        if self.app.session is None:
            return
        servers = [s for s in self.app.session.tool_servers() if s.error is not None]  # a restarted one has none
        for server in servers:
            server.retry()
        self.failed.clear()
        names = ", ".join(s.name for s in servers)
        self.app.notify(f"Tool servers will start again when a reply uses them: {names}." if servers
                        else "No tool server has failed.")
