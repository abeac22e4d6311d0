"""A turn's tool calls as the chat draws them: started, finished, and stopped with their turn."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .turns import TurnState
    from .widgets.message import MessageView


async def show_tool_event(state: TurnState, view: MessageView | None, event: Any) -> None:
    """Follow a ``ToolCallStarted`` or ``ToolCallFinished`` in the turn's state and its reply view."""
    from ..events import ToolCallFinished, ToolCallStarted

    match event:
        case ToolCallStarted(call_id=cid, name=name, arguments=args):
            state.tools[cid] = {"name": name, "arguments": args, "status": "running", "server": event.server,
                                "started_at": event.started_at, "message_id": event.message_id}
            if view is not None:
                await view.add_tool_call(cid, name, args)
        case ToolCallFinished(call_id=cid, status=status, duration_ms=ms, result=result, error=error):
            state.tools[cid] = {**state.tools.get(cid, {}), "status": status, "duration_ms": ms}
            if view is not None:
                view.finish_tool_call(cid, status, ms, result if error is None else error)
        case _:
            return
    working = state.working
    if working is not None and working.is_attached:
        working.update_state()  # "running echo (test)" from the call's start, not at the next second


def stopped_tool_events(state: TurnState) -> list[Any]:
    """A "cancelled" ``ToolCallFinished`` for each call still running when its turn was stopped.

    The engine saves such calls as cancelled, with the time they ran, but a stopped stream brings no event:
    these tell the reply view and the inspector the same.
    """
    from ..events import ToolCallFinished
    from ..memory.context import CANCELLED_TOOL

    now = time.time()
    return [
        ToolCallFinished(state.thread_id, call.get("message_id") or "", cid, call.get("name") or "tool",
                         call.get("arguments") or {}, result=None, error=CANCELLED_TOOL,
                         duration_ms=round((now - call.get("started_at", now)) * 1000, 1), status="cancelled",
                         server=call.get("server"))
        for cid, call in state.tools.items() if call.get("status") == "running"
    ]


def running_label(state: TurnState, now: float | None = None) -> str | None:
    """What the working line says while the turn's tools run: "running echo (test) · 2 s" (None: none runs).

    The name is the server's own (the wire name without its ``<server>__`` prefix); more calls at once are
    counted, and the seconds run from the first one's start.
    """
    from ..sanitize import sanitize

    running = [call for call in state.tools.values() if call.get("status") == "running"]
    if not running:
        return None
    now = time.time() if now is None else now
    first = running[0]
    name, server = str(first.get("name") or "tool"), first.get("server")
    if server:
        name = f"{name.removeprefix(f'{server}__')} ({server})"
    more = f" and {len(running) - 1} more" if len(running) > 1 else ""
    since = min(call.get("started_at", now) for call in running)
    return f"running {sanitize(name)}{more} · {max(0, int(now - since))} s"
