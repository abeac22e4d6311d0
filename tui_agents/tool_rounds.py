"""The tool side of a turn: which tools an agent has (built-ins and MCP servers), asking approval, running
the calls of a round concurrently, and saving each result with its images.

``ToolRounds`` is a part of ``AgentRunner``; it uses the runner's provider, stores, counter and options.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from . import events as turn_events  # made at first use (events.py)
from .errors import AgentError
from .events import MessageSaved
from .memory.context import CANCELLED_TOOL
from .types import Image, Message, ToolCall
from .turn_state import IMAGE_TOKENS, AgentSetup, Round, Turn, land

if TYPE_CHECKING:  # pragma: no cover
    from .events import ToolApproval, TurnEvent

log = logging.getLogger(__name__)


DECLINED_TOOL = "The user declined: the tool {name} was not run."


#: ``approve(name, server, arguments)``: True runs the call, False declines it; sync or async.
ApproveFn = Callable[[str, "str | None", dict[str, Any]], "bool | Awaitable[bool]"]


def server_of(turn: Turn, call: ToolCall) -> str | None:
    """The MCP server a called tool belongs to (None for a local or unknown tool)."""
    return getattr(turn.setup.tools.get(call.name), "server_name", None)


def is_tool_source(item: Any) -> bool:
    """Whether a ``tools=`` item contributes tools of its own at run time (an ``MCPServer``)."""
    return callable(getattr(item, "load_tools", None)) and not isinstance(item, str)


def names_server(name: str, server: str) -> bool:
    """Whether an agent record's tool name points at ``server``: its wire prefix, or ``"server:*"``."""
    return name == f"{server}:*" or name.startswith(re.sub(r"[^A-Za-z0-9_-]", "_", server) + "__")


def prepare_images(raw: Sequence[Any], limit: int | None) -> tuple[tuple[Image, ...], list[str]]:
    """Tool-result images (``Image`` or ``(MIME type, bytes)``) typed by their bytes and shrunk to ``limit``.

    Blocking (decodes images): run it in a thread. An image no provider takes
    (SVG, BMP...) or one that cannot be made small enough gets a note instead.
    """
    from .errors import ImageError
    from .images import load_image, shrink_image

    kept: list[Image] = []
    notes: list[str] = []
    for item in raw:
        media_type, data = (item.media_type, item.data) if isinstance(item, Image) else item
        try:
            image = load_image(bytes(data))
        except ImageError:
            notes.append(f"[The {media_type} image was not sent to the model: it takes PNG, JPEG, GIF or WebP only.]")
            continue
        if image.width is None:  # the right signature, but Pillow cannot read it: an API would refuse it too
            notes.append(f"[The {image.media_type} image was not sent to the model: it could not be read.]")
            continue
        if limit is not None and len(image.data) > limit:
            try:
                image = shrink_image(image, limit)
            except (ImageError, OSError, ValueError):
                notes.append("[An image was not sent to the model: it could not be made small enough.]")
                continue
        kept.append(image)
    return tuple(kept), notes


def images_as_note(message: Message, model: str) -> Message:
    """A tool result without its images, saying why, for a model that cannot see images."""
    count = len(message.images)
    note = (f"[{count} image{'s' if count > 1 else ''} of this result not shown: "
            f"the model {model or 'in use'} cannot see images.]")
    content = f"{message.content}\n{note}" if message.content else note
    return message.model_copy(update={"images": [], "content": content})


def _server(turn: Turn, call: ToolCall) -> Any:
    """The ``MCPServer`` object of a called tool (None for a local or unknown tool)."""
    return getattr(turn.setup.tools.get(call.name), "server", None)


def _new_failure(turn: Turn, call: ToolCall, known: dict[str, Any]) -> Any:
    """A ``ToolServerFailed`` when the call's server failed since the round began (once per failure)."""
    server = _server(turn, call)
    error = getattr(server, "error", None)
    if error is None or known.get(server.name) is error:
        return None
    known[server.name] = error
    return turn_events.ToolServerFailed(turn.thread_id, server.name, error, getattr(error, "stderr_tail", ""))


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """The result of one tool call, as saved and sent back to the model."""

    content: str
    status: str  # ok | error | timeout | declined (by the user) | cancelled (the turn was stopped)
    duration_ms: float
    images: tuple[Image, ...] = ()  # a result's images the provider can take (an MCP tool's), stored with it

    @property
    def is_error(self) -> bool:
        return self.status != "ok"


class ToolRounds:
    """The runner's tool steps: the agent's tool setup, approval, the concurrent calls and their saved results."""

    async def _setup_for(self, agent_id: str | None) -> AgentSetup:
        """The system prompt, tools and model of an agent record, read once per agent."""
        cached = self._setups.get(agent_id)
        if cached is not None:
            return cached
        record = await self._agents.get(agent_id) if agent_id else None
        server_tools: tuple[str, ...] = ()
        if self._tool_items is not None:
            tools = self._resolved_runner_tools()
        else:
            names = (record or {}).get("tools") or []
            server_tools = tuple(n for n in names if any(names_server(n, s.name) for s in self._tool_servers))
            tools = self._tools_by_name([n for n in names if n not in server_tools])
        setup = AgentSetup(
            system_prompt=(record or {}).get("system_prompt") or "",
            tools=tools,
            definitions=tuple(tool.get_definition() for tool in tools.values()),
            provider=(record or {}).get("provider"),
            model=(record or {}).get("model"),
            server_tools=server_tools,
        )
        self._setups[agent_id] = setup
        return setup

    async def _tool_round(self, turn: Turn, round_: Round) -> AsyncIterator[TurnEvent]:
        """Run the round's tool calls concurrently; save and report each result as it finishes."""
        message_id = round_.message_id or ""
        done: asyncio.Queue[tuple[ToolCall, float, ToolOutcome]] = asyncio.Queue()
        declined: set[str] = set()
        tasks: list[asyncio.Task[None]] = []
        saved: set[str] = set()
        known = {server.name: server.error for call in round_.calls if (server := _server(turn, call)) is not None}
        started: dict[str, float] = {}  # call id -> when it started: a stopped call is saved with the time it ran
        stopped = False
        try:
            for call in round_.calls:
                if self.approve is not None and call.name in turn.setup.tools:
                    # Asked one call at a time, in the model's order, before any of them runs.
                    decision = await self._approval(turn, call)
                    if not decision.approved:
                        declined.add(call.id)
                    yield decision
            for call in round_.calls:
                started[call.id] = time.time()
                yield turn_events.ToolCallStarted(turn.thread_id, message_id, call.id, call.name, call.arguments,
                                                  started[call.id], server_of(turn, call))
            tasks = [asyncio.create_task(self._run_tool(turn, call, done, call.id in declined))
                     for call in round_.calls]
            for _ in tasks:
                call, began, outcome = await done.get()
                result_id = await self._save_tool_result(turn, call, began, outcome)
                saved.add(call.id)
                yield MessageSaved(turn.thread_id, result_id, "tool", "complete")
                yield turn_events.ToolCallFinished(
                    turn.thread_id, message_id, call.id, call.name, call.arguments,
                    result=None if outcome.is_error else outcome.content,
                    error=outcome.content if outcome.is_error else None,
                    duration_ms=outcome.duration_ms, status=outcome.status,  # type: ignore[arg-type]
                    result_message_id=result_id, server=server_of(turn, call),
                )
                if (failed := _new_failure(turn, call, known)) is not None:
                    yield failed  # said when the server dies, not a turn later
        except BaseException as exc:
            stopped = not isinstance(exc, Exception)  # cancelled, or the consumer stopped listening
            raise
        finally:
            for task in tasks:
                task.cancel()
            if tasks:
                await land(asyncio.wait(tasks))
            unfinished = [c for c in round_.calls if c.id not in saved]
            if unfinished:  # stopped mid-tool: keep calls and results paired in the store
                await land(self._save_cancelled(turn, unfinished, started))
            if stopped and round_.message_id:  # the reply that made the calls was stopped, as a stopped text is
                await land(self._messages.update(round_.message_id, status="interrupted"))

    async def _approval(self, turn: Turn, call: ToolCall) -> ToolApproval:
        """Ask ``approve`` about one call; a failing callable counts as a decline."""
        tool = turn.setup.tools[call.name]
        server = getattr(tool, "server_name", None)
        name = getattr(tool, "remote_name", None) or call.name
        try:
            answer = self.approve(name, server, dict(call.arguments))  # type: ignore[misc]
            if inspect.isawaitable(answer):
                answer = await answer
            approved = answer is True
        except Exception:
            log.warning("The approval callable failed for %s; the call is declined.", call.name, exc_info=True)
            approved = False
        return turn_events.ToolApproval(turn.thread_id, call.id, name, server, dict(call.arguments), approved)

    async def _run_tool(self, turn: Turn, call: ToolCall, done: asyncio.Queue, declined: bool = False) -> None:
        started = time.time()
        if declined:
            outcome = ToolOutcome(DECLINED_TOOL.format(name=call.name), "declined", 0.0)
        else:
            outcome = await self._execute(turn, call)
        done.put_nowait((call, started, outcome))

    async def _execute(self, turn: Turn, call: ToolCall) -> ToolOutcome:
        """Run one tool call; every failure becomes an error result for the model, never an exception."""
        tool = turn.setup.tools.get(call.name)
        if tool is None:
            return ToolOutcome(self._no_such_tool(call.name), "error", 0.0)
        from .tools import ToolContext
        from .tools.base import WaitExpired, wait_or_abandon

        context = ToolContext(conn=self.conn, user_id=turn.user_id, thread_id=turn.thread_id)
        started = time.perf_counter()
        try:
            # Not asyncio.wait_for: it waits for the cancelled tool to end, forever if the tool ignores it.
            result = await wait_or_abandon(tool.run(call.arguments, context), self.tool_timeout)
        except WaitExpired:
            elapsed = (time.perf_counter() - started) * 1000
            return ToolOutcome(f"The tool {call.name} did not finish within {self.tool_timeout} seconds.",
                            "timeout", elapsed)
        except Exception as exc:  # a tool must never break the turn
            log.warning("Tool %s raised unexpectedly.", call.name, exc_info=True)
            elapsed = (time.perf_counter() - started) * 1000
            return ToolOutcome(f"The tool {call.name} failed: {exc}", "error", elapsed)
        status = getattr(result, "status", None) or ("error" if result.is_error else "ok")
        images, notes = await self._sendable_images(getattr(result, "images", None) or ())
        content = "\n".join([str(result.content), *notes]) if notes else str(result.content)
        return ToolOutcome(content, status, float(result.duration_ms), images)

    def _no_such_tool(self, name: str) -> str:
        """Why a called tool is not there: its server is down (with why), or no such tool exists."""
        for server in self.tool_servers:
            if names_server(name, server.name) and server.error is not None:
                return f"The tool {name} was not run: its MCP server {server.name} is down. {server.error}"
        return f"There is no tool named {name!r}."

    async def _sendable_images(self, raw: Sequence[Any]) -> tuple[tuple[Image, ...], list[str]]:
        """A tool result's images as the provider can take them, and a note for each left out."""
        if not raw:
            return (), []
        try:
            return await asyncio.to_thread(prepare_images, raw, self.provider.max_image_bytes)
        except Exception:  # a broken image must not lose the result's text (nor hang the round)
            log.warning("A tool result's images could not be read; the text goes without them.", exc_info=True)
            return (), ["[The result's images could not be read, so they were not sent to the model.]"]

    async def _history_for_model(self, turn: Turn) -> list[Message]:
        """The turn's messages as sent: tool-result images become a note when the model says it cannot see them."""
        if not any(m.images for m in turn.history if m.role == "tool"):
            return list(turn.history)
        if turn.sees_images is None:
            try:
                caps = await self.provider.capabilities(turn.model or None)
            except AgentError:
                caps = None  # unknown: send the images, as for a user's images
            turn.sees_images = caps is None or "vision" in caps
        if turn.sees_images:
            return list(turn.history)
        return [images_as_note(m, turn.model) if m.role == "tool" and m.images else m for m in turn.history]

    async def _save_tool_result(self, turn: Turn, call: ToolCall, started: float, outcome: ToolOutcome) -> str:
        meta = {
            "name": call.name, "arguments": call.arguments, "started_at": started,
            "duration_ms": outcome.duration_ms, "status": outcome.status,
        }
        if server := server_of(turn, call):
            meta["server"] = server  # the inspector names an MCP tool's server, also after a restart
        tokens = await self._count(Message(role="tool", content=outcome.content, tool_call_id=call.id))
        tokens += IMAGE_TOKENS * len(outcome.images)
        record = await self._messages.add(
            turn.thread_id, "tool", outcome.content, tool_call_id=call.id, meta=meta, token_count=tokens,
            images=outcome.images or None,
        )
        result_id = record["id"]
        self._images.update((image.sha256, image) for image in outcome.images)  # just stored: no need to read back
        turn.history.append(Message(role="tool", content=outcome.content, tool_call_id=call.id,
                                    name=call.name, is_error=outcome.is_error, id=result_id,
                                    images=list(outcome.images)))
        return result_id

    async def _save_cancelled(self, turn: Turn, calls: Sequence[ToolCall], started: Mapping[str, float]) -> None:
        """Save a "cancelled" result for each stopped call, with the time it ran (0 if it never started)."""
        now = time.time()
        for call in calls:
            began = started.get(call.id, now)
            outcome = ToolOutcome(CANCELLED_TOOL, "cancelled", round((now - began) * 1000, 1))
            await self._save_tool_result(turn, call, began, outcome)

    def _resolved_runner_tools(self) -> dict[str, Any]:
        if self._runner_tools is None:
            from .tools import resolve_tools

            items = [item for item in self._tool_items or [] if not is_tool_source(item)]
            self._runner_tools = {t.name: t for t in resolve_tools(items)}
        return self._runner_tools

    async def _with_source_tools(self, setup: AgentSetup) -> tuple[AgentSetup, list[tuple[str, AgentError, str]]]:
        """The setup plus the tools of each tool server, started on first use; a server that fails is left out."""
        tools = dict(setup.tools)
        failures: list[tuple[str, AgentError, str]] = []
        picked = set(setup.server_tools)
        for source, wanted in self._sources_for(setup):
            try:
                loaded = await source.load_tools()
            except AgentError as exc:
                failures.append((getattr(source, "name", repr(source)), exc, getattr(exc, "stderr_tail", "")))
                continue
            for tool in loaded:
                if not wanted or tool.name in picked or f"{source.name}:*" in picked:
                    if tools.setdefault(tool.name, tool) is not tool:  # e.g. servers "a.b" and "a_b"
                        log.warning("Tool %s of MCP server %s is left out: another tool has that name.",
                                    tool.name, getattr(source, "name", source))
        if len(tools) == len(setup.tools):
            return setup, failures
        definitions = tuple(tool.get_definition() for tool in tools.values())
        return replace(setup, tools=tools, definitions=definitions), failures

    def _sources_for(self, setup: AgentSetup) -> list[tuple[Any, bool]]:
        """(server, picked by name?): every server of ``tools=``, and the ``tool_servers`` the record names."""
        pairs = [(source, False) for source in self._tool_sources]
        pairs += [(server, True) for server in self._tool_servers
                  if any(names_server(name, server.name) for name in setup.server_tools)]
        return pairs

    @staticmethod
    def _tools_by_name(names: Iterable[str]) -> dict[str, Any]:
        """Tools named by an agent record; a name no longer registered is skipped with a warning."""
        tools: dict[str, Any] = {}
        for name in names:
            from .tools import resolve_tools  # in the loop: no tool named, no registry loaded

            try:
                for tool in resolve_tools([name]):
                    tools[tool.name] = tool
            except AgentError:
                log.warning("The agent lists tool %r, which is not registered; it is left out.", name)
        return tools
