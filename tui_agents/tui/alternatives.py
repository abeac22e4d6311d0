"""Regenerated replies in the chat pane: the old reply steps aside in place, and keys switch between versions.

The store keeps every version of a reply on its slot (``MessageStore.alternative_slots``);
the version shown is the one the next turn sends. Nothing here deletes a message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .widgets.chat_pane import ChatPane
from .widgets.message import MessageView

if TYPE_CHECKING:  # pragma: no cover
    from .screens.main import MainScreen
    from .turns import TurnState

__all__ = ["remove_last_reply", "after_regenerate", "switch_alternative", "target_view"]


async def remove_last_reply(pane: ChatPane) -> None:
    """Take the views after the last user message off the pane: the regenerated reply takes their place."""
    views = pane.views
    users = [i for i, view in enumerate(views) if view.role == "user"]
    if not users:
        return
    for view in views[users[-1] + 1:]:
        await view.remove()


async def after_regenerate(screen: MainScreen, state: TurnState) -> bool:
    """Show the new reply's ``◂ n/m ▸``; when no new one was written, show the thread again (True)."""
    app = screen.app
    pane = app.chat_pane
    if app.session is None or pane.thread_id != state.thread_id:
        return False
    if state.reply_id is None:
        await screen.threads.open_thread(state.thread_id)  # the store kept the old reply chosen: show it
        return True
    info = await app.session.messages.alternatives(state.reply_id)
    view = state.view
    if info is not None and view is not None and view.is_attached:
        pane.alternatives[view.message_id or state.reply_id] = info
        view.set_alternatives(info)
    return False


def target_view(pane: ChatPane) -> MessageView | None:
    """The reply to switch: the selected one (or the reply it belongs to), else the last reply of the pane."""
    views = pane.views
    if not views:
        return None
    selected = pane.selected()
    start = views.index(selected) if selected is not None else len(views) - 1
    for view in reversed(views[: start + 1]):
        if view.alternatives:
            return view
        if view.role == "user":
            return None
    return None


async def switch_alternative(screen: MainScreen, delta: int) -> None:
    """Show the previous (``delta`` -1) or next (+1) version of the target reply; that one is sent next."""
    app = screen.app
    thread_id = app.current_thread_id
    if thread_id is None or app.session is None:
        return
    if screen.turns.running(thread_id):
        app.notify("Wait for the reply to finish (or stop it with escape) before switching versions.")
        return
    pane = app.chat_pane
    view = target_view(pane)
    if view is None or view.alternatives is None or view.message_id is None:
        app.notify("This reply has no other versions; ctrl+r writes one.")
        return
    index = int(view.alternatives["index"]) + delta
    if not 0 <= index < int(view.alternatives["count"]):
        app.bell()
        return
    chosen = await app.session.messages.select_alternative(view.message_id, index)
    first = chosen["message_ids"][index]
    if app.focused is not pane or pane.selected() is None:
        await screen.threads.open_thread(thread_id)  # the last reply: show the thread's end again
        return
    await screen.threads.open_thread(thread_id, message_id=first)
    shown = pane.find(first)
    if shown is not None:
        pane.cursor = pane.views.index(shown)
