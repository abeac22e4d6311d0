"""Turns as the chat screen runs them: ``TurnState`` per thread, and ``TurnController``, which consumes the
engine's ``TurnEvent`` stream (``app.session.send`` / ``resume``) into the chat pane, the status bar and the open panel.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import aclosing, suppress
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.css.query import NoMatches

from .alternatives import after_regenerate, remove_last_reply
from .tool_access import turn_thread
from .tool_calls import show_tool_event, stopped_tool_events
from .widgets.chat_pane import FIRST_PAGE, ChatPane
from .widgets.message import MessageView, Notice
from .widgets.welcome import Welcome
from .widgets.working import DATA_EVENTS, WorkingLine

if TYPE_CHECKING:  # pragma: no cover
    from .app import AiAgentsApp
    from .screens.main import MainScreen
    from .threads import ThreadController

__all__ = ["TurnController", "TurnState"]

log = logging.getLogger(__name__)


@dataclass
class TurnState:
    """One running (or just ended) turn of a thread, fed by the runner's events."""

    thread_id: str
    provider: str
    model: str
    chunks: list[str] = field(default_factory=list)
    thinking: list[str] = field(default_factory=list)
    images: list[Any] = field(default_factory=list)
    """Images sent with the user's text (``types.Image``)."""
    user_message_id: str | None = None
    reply_id: str | None = None
    status: str = "streaming"
    error: Any = None
    usage: Any = None
    tools: dict[str, dict[str, Any]] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)
    worker: Any = None
    view: Any = None
    """The streaming reply's ``MessageView`` while its thread is on screen."""
    user_view: Any = None
    regenerate: bool = False
    """The turn writes a new version of the last reply (the old one stays on its slot)."""
    data_seen: bool = False
    """Whether the provider has started answering (the working line stops counting seconds)."""
    stalled_since: float | None = None
    """Wall-clock time of the last data while the stream is stalled (None: not stalled)."""
    working: Any = None
    """The ``WorkingLine`` under the streaming reply while it is on screen."""
    pending: list[Any] | None = None
    """Events that arrived while the turn's views were still being mounted (None: applied as they come)."""
    views_ready: asyncio.Event = field(default_factory=asyncio.Event)  # views mounted, ``pending`` applied
    request_sent: asyncio.Future[None] | None = None  # done once the request is out (or the turn ended): views mount

    @property
    def text(self) -> str:
        """The reply so far (joined on demand, never per token)."""
        if len(self.chunks) > 1:
            self.chunks[:] = ["".join(self.chunks)]
        return self.chunks[0] if self.chunks else ""

    @property
    def running(self) -> bool:
        return self.status == "streaming"


REQUEST_FIRST = 0.1  # seconds a new turn's views wait at most for its request to leave (a few ms, engine warm)


def _resolve(future: asyncio.Future[None] | None) -> None:
    if future is not None and not future.done():
        future.set_result(None)


def _context_window(provider: str, model: str) -> int | None:
    """The model's context window from the provider registry (None for an unknown provider or no model)."""
    from ..providers import registry

    spec = registry.find(provider)
    return spec.context_window(model) if spec is not None and model else None


class TurnController:
    """Sends, stops, retries and regenerates; draws each turn from its events."""

    def __init__(self, screen: MainScreen) -> None:
        self.screen = screen
        self._told_no_tools: set[str] = set()

    @property
    def app(self) -> AiAgentsApp:
        return self.screen.app

    @property
    def threads(self) -> ThreadController:
        return self.screen.threads

    def running(self, thread_id: str | None) -> bool:
        """Whether a reply of ``thread_id`` is streaming."""
        state = self.app.turns.get(thread_id or "")
        return bool(state and state.running)

    def can_chat(self) -> bool:
        return bool(self.app.provider_ok)

    async def submit(self, text: str) -> None:
        """Send the composer's text: in the open thread, or in a new one."""
        await self.app.wait_ready()
        await self.app.drafts.wait_reopened()  # typed before the last thread opened: it goes there
        assert self.app.session is not None
        if not self.can_chat():
            self.app.notify(self.app.provider_problem or "No provider is ready yet.", severity="warning")
            return
        thread_id = self.app.current_thread_id
        if thread_id is not None and thread_id in self.app.turns and self.app.turns[thread_id].running:
            self.app.notify("A reply is still streaming here; press escape to stop it.", severity="warning")
            return
        images = self.screen.local.pending_images
        if images and not await self.screen.local.vision_ok(self.app.status_bar.provider or self.app.provider_name,
                                                            self.app.status_bar.model or self.app.model_name):
            return  # said before the request; the text and the images stay
        thread: dict[str, Any] | None = None
        if thread_id is None:
            thread = await self.app.session.new_thread(self.app.provider_name, self.app.model_name)
            thread_id = thread["id"]
            preview = self.threads.remember_preview(thread_id, text)
            self.app.current_thread_id = thread_id
            self.app.composer.draft_key = thread_id
            self.app.chat_pane.thread_id = thread_id
            await self.app.chat_pane.remove_children()
            self.screen.set_thread_title(preview)
            self.app.run_worker(self.threads.reload_threads, exit_on_error=False)
        self.app.composer.clear_sent()
        self.screen.local.clear_attachments()
        await self.start_turn(thread_id, text, images, thread=thread)

    async def start_turn(self, thread_id: str, text: str | None, images: list[Any] | None = None, *,
                         regenerate: bool = False, thread: dict[str, Any] | None = None) -> TurnState:
        """Run a turn (``text`` None: answer the last user message again; ``regenerate``: as a new version
        of its reply) in a worker keyed by thread (``thread``: its record, if just read)."""
        assert self.app.session is not None
        if thread is None:
            thread = await self.app.session.threads.get(thread_id)
        state = TurnState(thread_id, thread.get("provider") or self.app.provider_name,
                          thread.get("model") or self.app.model_name, regenerate=regenerate,
                          images=list(images or ()))
        self.app.turns[thread_id] = state
        self.app.background.started(thread_id)
        pane = self.app.chat_pane
        if pane.thread_id == thread_id and pane.has_newer:
            # the window was scrolled away from the end: show the end again (before the turn saves anything)
            records = await self.app.session.messages.list(thread_id, limit=FIRST_PAGE)
            await pane.show(thread_id, records, has_older=len(records) >= FIRST_PAGE)
        shown = pane.thread_id == thread_id
        if shown:
            state.pending = []
            self._hold_views_for_request(state)
        else:
            state.views_ready.set()
        # The request goes out before the views mount: the user's message reaches the server sooner, and the
        # events that come before the views are there wait in ``state.pending``.
        state.worker = self.app.run_worker(partial(self._run_turn, state, text), name=f"turn:{thread_id}",
                                           group="turns", exit_on_error=False)
        if shown:
            if state.request_sent is not None:
                with suppress(TimeoutError):  # a request that cannot leave at once is not waited for long
                    await asyncio.wait_for(asyncio.shield(state.request_sent), REQUEST_FIRST)
            try:
                await self._mount_turn_views(pane, state, text)
            finally:
                await self._apply_pending(state)
        return state

    def _hold_views_for_request(self, state: TurnState) -> None:
        """With the engine warm, let the request leave before drawing the turn (drawing takes the loop for a while)."""
        session = self.app.session
        provider = session.built_provider(state.provider) if session is not None and self.app.engine_ready else None
        if provider is None or not hasattr(provider, "on_request_sent"):
            return
        sent = state.request_sent = asyncio.get_running_loop().create_future()
        provider.on_request_sent(lambda: sent.done() or sent.set_result(None))

    async def _mount_turn_views(self, pane: ChatPane, state: TurnState, text: str | None) -> None:
        """The user's message (unless answering again), the streaming reply's view and its working line."""
        pane.provider = state.provider
        old = pane.last_notice()
        if old is not None:
            await old.remove()
        if state.regenerate:
            await remove_last_reply(pane)
        if text is not None:
            user_view = await pane.add_message(
                {"role": "user", "content": text, "created_at": time.time(), "thread_id": state.thread_id,
                 "images": [{"name": i.name, "media_type": i.media_type, "width": i.width, "height": i.height,
                             "bytes": len(i.data)} for i in state.images]})
            state.user_view = user_view
        view = await pane.add_message(
            {"role": "assistant", "model": state.model, "created_at": time.time(), "thread_id": state.thread_id},
            streaming=True)
        state.view = view
        await self.attach_working(state)
        pane.anchor()

    async def _apply_pending(self, state: TurnState) -> None:
        """Apply, in order, the events that came while the views mounted; from then on they apply as they come."""
        pending = state.pending if state.pending is not None else []
        try:
            while pending:
                await self._apply_event(state, pending.pop(0))  # the worker may append more meanwhile
        except Exception:  # as in the worker: drawing a turn must not take the app down
            log.error("Showing a turn of thread %s failed.", state.thread_id, exc_info=True)
        finally:
            state.pending = None
            state.views_ready.set()  # the turn's end never waits forever

    async def attach_working(self, state: TurnState) -> None:
        """Show the working state under the streaming reply's view (until the turn ends)."""
        if state.view is not None and state.running:
            state.working = WorkingLine(state)
            await state.view.mount(state.working)

    def _show_working(self, state: TurnState, event: Any) -> None:
        """Follow the stream in the working line: first data, a stall, data again."""
        name = type(event).__name__
        if name == "StreamStalled":
            state.stalled_since = event.since
        elif name == "StreamResumed":
            state.stalled_since = None
        elif name in DATA_EVENTS:
            if state.data_seen:
                return  # streaming already: the line reads "· esc stops", no redraw per token
            state.data_seen = True
        else:
            return
        working = state.working
        if working is not None and working.is_attached:
            working.update_state()

    def _view_of(self, state: TurnState) -> MessageView | None:
        """The turn's reply view while it is in the chat pane showing the turn's thread (checked per event:
        the view's own parent is the pane, so no query of the screen)."""
        view = state.view
        if view is None:
            return None
        pane = view.parent
        if isinstance(pane, ChatPane) and pane.thread_id == state.thread_id and view.is_attached:
            return view
        return None

    async def _run_turn(self, state: TurnState, text: str | None) -> None:
        from ..errors import AgentError

        assert self.app.session is not None
        turn_thread.set(state.thread_id)  # the approval dialog names the thread that asks
        try:
            await asyncio.shield(self.app.warm_up())  # the job queue must run before the runner is built
            if state.regenerate:
                stream = self.app.session.regenerate(state.thread_id, provider=state.provider)
            elif text is None:
                stream = self.app.session.resume(state.thread_id, provider=state.provider)
            else:
                stream = self.app.session.send(state.thread_id, text, provider=state.provider, images=state.images)
            async with aclosing(stream) as events:
                async for event in events:
                    if state.pending is not None:
                        state.pending.append(event)  # the views are still mounting: applied in order by then
                    else:
                        await self._apply_event(state, event)
        except asyncio.CancelledError:
            state.status = "interrupted"
            _resolve(state.request_sent)
            await state.views_ready.wait()
            for stopped in stopped_tool_events(state):  # a stopped stream says nothing of its running tools
                await self._apply_event(state, stopped)
            await self._end_turn(state)
            raise
        except AgentError as exc:
            state.status, state.error = "error", exc
        except Exception as exc:  # an engine bug must not take the app down
            log.error("A turn of thread %s failed unexpectedly.", state.thread_id, exc_info=True)
            state.status = "error"
            state.error = AgentError(f"The turn failed unexpectedly ({type(exc).__name__}).")
        if state.status == "streaming":
            state.status = "complete"
        _resolve(state.request_sent)
        await state.views_ready.wait()
        await self._end_turn(state)

    async def _apply_event(self, state: TurnState, event: Any) -> None:
        from ..events import (
            AlternativeStarted, GuardrailFlagged, MessageSaved, RateLimitWait, TextDelta, ThinkingDelta,
            ToolCallFinished, ToolCallStarted, ToolServerFailed, ToolsSkipped, TurnFailed, TurnFinished,
            UsageReported,
        )

        if self.screen.panel is not None:
            self.app.panels.panel_event(event)  # the inspector and memory panel follow the turn too
        if not state.data_seen or state.stalled_since is not None or type(event).__name__ == "StreamStalled":
            self._show_working(state, event)
        view = self._view_of(state)
        match event:
            case AlternativeStarted(index=index, count=count):
                if view is not None:
                    view.set_alternatives({"index": index, "count": count})
            case TextDelta(text=text):
                state.chunks.append(text)
                if view is not None:
                    view.feed(text)
            case ThinkingDelta(text=text):
                state.thinking.append(text)
                if view is not None:
                    view.feed_thinking(text)
            case MessageSaved(role="user", message_id=mid):
                state.user_message_id = mid
                user_view = state.user_view
                if user_view is not None:
                    user_view.set_id(mid)
            case MessageSaved(role="assistant", message_id=mid):
                state.reply_id = mid
                if view is not None:
                    view.set_id(mid)
            case ToolCallStarted() | ToolCallFinished():
                await show_tool_event(state, view, event)
            case UsageReported(usage=usage):
                state.usage = usage
            case ToolServerFailed():
                self.app.tools.server_failed(event)
            case RateLimitWait(seconds=seconds):
                self.app.status_bar.wait_until = time.time() + seconds
            case ToolsSkipped(model=model):
                if model not in self._told_no_tools:  # once per model and session: it is not news twice
                    self._told_no_tools.add(model)
                    self.app.notify(f"{model} cannot call tools, so it answers without them.",
                                    title="No tools", timeout=6, markup=False)
            case GuardrailFlagged(reason=reason, action=action):
                if view is not None:
                    await self.app.chat_pane.add(Notice(f"Guardrail {action}: {reason}", error=action == "blocked"))
            case TurnFinished(usage=usage, text=text):
                state.status, state.usage = "complete", usage
                state.chunks[:] = [text]
                if self.app.current_thread_id == state.thread_id:
                    self.app.status_bar.last_turn = usage.total_tokens  # the context is counted in _end_turn
            case TurnFailed(error=error, status=status, partial_text=partial):
                state.status = status
                state.error = error
                if partial and not state.chunks:
                    state.chunks.append(partial)

    async def count_context(self, thread_id: str, provider: str, model: str) -> None:
        """Show in the status bar what the next turn of the thread sends (the memory panel lists the same)."""
        from ..errors import AgentError

        assert self.app.session is not None
        try:
            context = await self.app.session.context(thread_id, provider=provider, model=model)
        except AgentError:
            log.warning("Could not count the context of thread %s.", thread_id, exc_info=True)
            return
        if self.app.current_thread_id == thread_id:
            self.app.status_bar.context_window = context.window
            self.app.status_bar.context_estimated = context.estimated
            self.app.status_bar.context_used = context.tokens

    def show_context_of(self, thread: dict[str, Any] | None) -> None:
        """After opening a thread (None: a new chat), the status bar counts what its next turn sends.

        Only once the engine has warmed up: counting needs the tokenizer, which an idle app never loads.
        """
        self.app.status_bar.context_used = None
        if thread is None or not self.app.engine_ready:
            return
        provider = thread.get("provider") or self.app.provider_name
        model = thread.get("model") or self.app.model_name
        self._count_later(thread["id"], provider, model)

    def _count_later(self, thread_id: str, provider: str, model: str) -> None:
        """Count the context in a worker, the previous count cancelled. A callable, not a coroutine: a worker
        cancelled before it starts (exclusive, or the app closing) leaves no coroutine never awaited."""
        self.app.run_worker(partial(self.count_context, thread_id, provider, model), group="ctx", exclusive=True,
                            exit_on_error=False)

    async def show_thread_usage(self, thread_id: str) -> None:
        """Show the thread's token and cost totals in the title bar (while it is the open thread)."""
        from ..pricing import PriceTable
        from .widgets.usage_footer import totals_line

        if self.app.session is None or self.app.session.conn is None:
            return
        rows = await self.app.session.usage().totals("thread", thread_id=thread_id)
        if self.app.current_thread_id == thread_id:
            self.screen.set_thread_usage(totals_line(rows, PriceTable.from_config(self.app.config)) if rows else "")

    async def _end_turn(self, state: TurnState) -> None:
        self.app.background.ended(state)
        working, state.working = state.working, None
        if working is not None and working.is_attached:
            with suppress(NoMatches):
                await working.remove()  # its timer goes with it
        try:
            with suppress(NoMatches):
                await self._show_turn_end(state)
        finally:  # the next turn's context is counted however the end was drawn, after the end's frame (~20 ms)
            if state.status == "complete" and self.app.current_thread_id == state.thread_id:
                self.screen.call_after_refresh(self._count_later, state.thread_id, state.provider, state.model)

    async def _show_turn_end(self, state: TurnState) -> None:
        if state.regenerate and await after_regenerate(self.screen, state):
            return  # no new version was written: the thread is shown again as the store has it
        view = self._view_of(state)
        if view is not None:
            if view.thoughts is not None and state.reply_id and self.app.session is not None:
                from ..errors import AgentError

                with suppress(AgentError):  # the saved thinking time; the live count stands without it
                    view.record["meta"] = (await self.app.session.messages.get(state.reply_id)).get("meta")
            if state.status == "error" and not (state.text or state.thinking or state.tools):
                await view.remove()  # nothing was saved: the failure notice below says it (one per attempt)
            else:
                await view.finish(state.status, state.text)
            if state.reply_id and self.app.session is not None:
                await view.show_usage(await self.app.session.messages.get(state.reply_id), state.provider)
                await self.show_thread_usage(state.thread_id)
            if state.status == "error" and state.error is not None:
                await self.app.chat_pane.add(Notice(str(state.error), thread_id=state.thread_id))
        elif state.status == "error" and state.error is not None:
            self.app.notify(f"A reply in another thread failed: {state.error}", severity="error")
        if state.status == "complete" and self.app.sidebar.tree.show_archived is False:
            self.app.run_worker(self.threads.reload_threads, exit_on_error=False)

    def stop(self) -> None:
        """Stop the streaming reply of the open thread; the partial text is kept."""
        state = self.app.turns.get(self.app.current_thread_id or "")
        if state is not None and state.running and state.worker is not None:
            state.worker.cancel()

    async def retry(self) -> None:
        """Retry the open thread's failed reply, or check the provider again."""
        thread_id = self.app.current_thread_id
        if thread_id is None:
            self.app.provider_ok = None
            await self.check_provider()
            if self.app.provider_ok:
                await self.show_welcome()
            return
        state = self.app.turns.get(thread_id)
        if state is not None and state.running:
            return
        await self.start_turn(thread_id, None)

    async def regenerate(self) -> None:
        """Answer the last user message again in place; the old reply stays as another version (alt+left)."""
        thread_id = self.app.current_thread_id
        if thread_id is None or self.app.session is None:
            return
        state = self.app.turns.get(thread_id)
        if state is not None and state.running:
            self.app.notify("Stop the streaming reply first (escape).", severity="warning")
            return
        pane = self.app.chat_pane
        if pane.thread_id == thread_id and not pane.has_older and not any(v.role == "user" for v in pane.views):
            self.app.notify("There is no message of yours to answer again.")
            return
        await self.start_turn(thread_id, None, regenerate=True)

    async def edit_and_resend(self, thread_id: str, record: dict[str, Any], text: str) -> None:
        """Send an edited user message in a branch that ends just before the original."""
        assert self.app.session is not None
        if "position" not in record:  # sent in this session: its view's record has no position
            record = await self.app.session.messages.get(record["id"])
        before = await self.app.session.messages.list(thread_id, limit=1, before=record["position"])
        if before:
            branch = await self.app.session.branch(thread_id, before[0]["id"])
        else:
            source = await self.app.session.threads.get(thread_id)
            branch = await self.app.session.new_thread(source.get("provider") or self.app.provider_name,
                                                   source.get("model") or self.app.model_name)
        await self.threads.reload_threads()
        await self.threads.open_and_type(branch["id"])
        await self.start_turn(branch["id"], text)

    # ---- the provider and model of the chat

    async def check_provider(self) -> None:
        """Decide whether chat can start: the provider says (a key, or a local server with a model)."""
        from ..providers import registry

        assert self.app.session is not None
        spec = registry.find(self.app.provider_name)
        if spec is not None and spec.local and self.app.cli_provider and self.app.cli_model:
            self.set_provider_ok(True)  # named on the command line: trusted without a round trip
            return
        readiness = await self.app.session.check(self.app.provider_name, self.app.model_name)
        if readiness.ok and not self.app.model_name and readiness.models:
            self.app.model_name = readiness.models[0]
        self.app.provider_problem = readiness.problem
        self.set_provider_ok(readiness.ok)

    def set_provider_ok(self, ok: bool) -> None:
        was = self.app.provider_ok
        self.app.provider_ok = ok
        self.update_status()
        if self.app.current_thread_id is None and was != ok:
            self.app.run_worker(self.show_welcome, exit_on_error=False)

    async def show_welcome(self) -> None:
        pane = self.app.chat_pane
        await pane.show(None, [], False, extra=[Welcome(self.app.provider_ok, self.app.provider_problem,
                                                        self.app.provider_name, self.app.model_name)])

    def update_status(self, thread: dict[str, Any] | None = None) -> None:
        bar = self.app.status_bar
        provider = (thread or {}).get("provider") or self.app.provider_name
        model = (thread or {}).get("model") or self.app.model_name
        bar.show(provider, model)
        bar.context_window = _context_window(provider, model)
        bar.state = "" if self.app.provider_ok is not False else "not ready"
        if self.app.session is not None and self.app.session.stores is not None:
            # a partial, not a coroutine: an exclusive worker cancelled before it starts leaves none unawaited
            self.app.run_worker(partial(self._server_window, provider, model), group="window", exclusive=True,
                                exit_on_error=False)

    async def _server_window(self, provider: str, model: str) -> None:
        """Replace the table's window with the one the server reports for the model (e.g. Ollama's /api/show)."""
        assert self.app.session is not None
        window = await self.app.session.context_window(provider, model)
        bar = self.app.status_bar
        if window is not None and (bar.provider, bar.model) == (provider, model):
            bar.context_window = window

    # ---- app-wide actions (the chat screen has its own; panels.py the panels')

    async def action_agents(self) -> None:
        """Open the agents screen."""
        await self.app.panels.agents()

    async def action_documents(self) -> None:
        """Open the documents screen."""
        await self.app.panels.documents()

    def action_import_threads(self) -> None:
        """Ask for a file and import the threads in it."""
        self.app.panels.ask_import()

    async def import_from(self, path: Path) -> list[str]:
        """Import a thread file; a malformed file changes nothing and says why."""
        return await self.app.panels.import_from(path)

    def action_pick_theme(self) -> None:
        """Choose a colour theme (ours first); the choice is saved in the settings."""
        self.app.panels.pick_theme()

    def action_change_theme(self) -> None:
        """Textual's "Theme" palette command, through our picker so the choice is saved."""
        self.app.panels.pick_theme()

    def set_theme(self, name: str) -> None:
        """Switch to theme ``name`` and save it in the settings."""
        self.app.panels.set_theme(name)

    async def on_agent_selected(self, event: Any) -> None:
        """New chats start from the chosen agent, now and after a restart."""
        await self.app.panels.agent_selected(event.agent_id)

    def pick_model(self) -> None:
        """Choose provider and model for the open thread (or new chats)."""
        from .screens.model_picker import ModelPickerScreen

        self.app.push_screen(ModelPickerScreen(self.app.provider_name, self.app.model_name), self.model_picked)

    async def model_picked(self, choice: tuple[str, str] | None) -> None:
        if not choice or self.app.session is None:
            return
        provider, model = choice
        self.app.provider_name, self.app.model_name = provider, model
        thread = None
        if self.app.current_thread_id:
            thread = await self.app.session.threads.set_model(self.app.current_thread_id, provider, model)
        self.app.provider_ok = None
        await self.check_provider()
        self.update_status(thread)
        if self.app.current_thread_id is None:
            await self.show_welcome()
