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
