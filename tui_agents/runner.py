"""One agent turn, end to end, as a stream of typed events.

``AgentRunner.run_stream`` performs a turn and yields the events of
``events.py``; ``run`` is built on it and returns the reply text. A turn:

    permission check -> save the user message (committed before any network
    call) -> guardrail judge -> context (system prompt + user facts + memory
    strategy) -> rate limiter -> provider stream -> tool loop -> save the
    reply -> record usage -> enqueue background jobs

Persistence never loses text: the reply is written as ``streaming`` at its
first token, flushed on a timer (never per token), and ends ``complete``,
``interrupted`` (the task was cancelled) or ``error`` (a provider error), with
the partial text kept. A provider error before any text leaves no reply row:
the user message stays saved, and ``resume_stream`` answers it again.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

from .errors import (
    AgentError,
    CapabilityError,
    GuardrailBlockedError,
    InvalidArgumentError,
    PermissionDeniedError,
    ToolError,
)
from .events import (
    AlternativeStarted,
    GuardrailFlagged,
    MessageSaved,
    RateLimitWait,
    StreamResumed,
    StreamStalled,
    TextDelta,
    ToolsSkipped,
    ThinkingDelta,
    ToolApproval,
    ToolCallFinished,
    ToolCallStarted,
    ToolServerFailed,
    TurnEvent,
    TurnFailed,
    TurnFinished,
    UsageReported,
)
from .providers.base import (
    Provider, TextDeltaEvent, ThinkingBlockEvent, ThinkingDeltaEvent, ToolCallEndEvent, UsageEvent,
)
from .types import Image, Message, ToolCall, ToolDefinition, Usage
from .memory.context import CANCELLED_TOOL as _CANCELLED_TOOL
from .memory.context import TurnContext
from .workers import MEMORY_JOB, TITLE_JOB

__all__ = ["AgentRunner", "Authorizer", "JobSink", "MemorySelector", "TurnLimiter"]

log = logging.getLogger(__name__)
T = TypeVar("T")

# Texts longer than this are counted in a thread: tiktoken would block the loop.
_INLINE_COUNT_CHARS = 4000
_IMAGE_TOKENS = 1024  # what an image adds to its message's count (vision models vary; ~1k is typical)

_DECLINED_TOOL = "The user declined: the tool {name} was not run."

#: ``approve(name, server, arguments)``: True runs the call, False declines it; sync or async.
ApproveFn = Callable[[str, "str | None", dict[str, Any]], "bool | Awaitable[bool]"]


def _server_of(turn: "_Turn", call: ToolCall) -> str | None:
    """The MCP server a called tool belongs to (None for a local or unknown tool)."""
    return getattr(turn.setup.tools.get(call.name), "server_name", None)


def _is_tool_source(item: Any) -> bool:
    """Whether a ``tools=`` item contributes tools of its own at run time (an ``MCPServer``)."""
    return callable(getattr(item, "load_tools", None)) and not isinstance(item, str)


def _names_server(name: str, server: str) -> bool:
    """Whether an agent record's tool name points at ``server``: its wire prefix, or ``"server:*"``."""
    return name == f"{server}:*" or name.startswith(re.sub(r"[^A-Za-z0-9_-]", "_", server) + "__")


def _sendable_images(raw: Sequence[Any], limit: int | None) -> tuple[tuple[Image, ...], list[str]]:
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


def _images_as_note(message: Message, model: str) -> Message:
    """A tool result without its images, saying why, for a model that cannot see images."""
    count = len(message.images)
    note = (f"[{count} image{'s' if count > 1 else ''} of this result not shown: "
            f"the model {model or 'in use'} cannot see images.]")
    content = f"{message.content}\n{note}" if message.content else note
    return message.model_copy(update={"images": [], "content": content})


def _usage_dict(usage: Usage) -> dict[str, int]:
    return {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens}


def _timing(sent: float, first_text: float | None, ended: float) -> dict[str, float]:
    """A reply's ``meta`` timing in ms: ``ttft_ms`` (request to first text, if any) and ``duration_ms``."""
    timing = {"duration_ms": round((ended - sent) * 1000, 1)}
    if first_text is not None:
        timing["ttft_ms"] = round((first_text - sent) * 1000, 1)
    return timing


async def _land(work: Awaitable[T]) -> T:
    """Await ``work`` to its end even if the caller is cancelled meanwhile, then re-raise the cancellation.

    A save must land before a cancelled turn returns: ``asyncio.shield`` alone
    would let the caller go on (and perhaps close the connection) while it runs.
    """
    task = asyncio.ensure_future(work)
    cancelled: asyncio.CancelledError | None = None
    while not task.done():
        try:
            await asyncio.wait([task])
        except asyncio.CancelledError as exc:
            cancelled = exc
    if cancelled is not None:
        if not task.cancelled() and task.exception() is not None:
            log.warning("A save failed while the turn was being stopped.", exc_info=task.exception())
        raise cancelled
    return task.result()


class Authorizer(Protocol):
    """Who may write to a thread (``store.Auth``)."""

    async def check(self, user_id: str, action: str, resource_type: str, resource_id: str) -> bool: ...


class MemorySelector(Protocol):
    """A memory strategy: which stored messages of a thread go into the context (``memory.MemoryStrategy``)."""

    async def select(self, messages: Any, thread_id: str, counter: Any = None,
                     reserve_tokens: int = 0) -> Sequence[Mapping[str, Any]]: ...

    def describe(self) -> str: ...


class TurnLimiter(Protocol):
    """Requests and tokens a minute (``limits.RateLimiter``): reserve atomically, then record what was used."""

    async def try_acquire(self, key: str, estimated_tokens: int = 0) -> float: ...

    async def record(self, key: str, actual_tokens: int = 0) -> None: ...


class JobSink(Protocol):
    """Where background jobs go (``limits.JobQueue``); handlers are registered by name."""

    def register(self, name: str, fn: Any) -> None: ...

    async def enqueue(self, name: str, payload: dict[str, Any] | None = None, max_retries: int = 3) -> str: ...


@dataclass(frozen=True, slots=True)
class _AgentSetup:
    """What a thread's agent record gives every turn: cached per agent id."""

    system_prompt: str
    tools: Mapping[str, Any]
    definitions: tuple[ToolDefinition, ...]
    provider: str | None = None
    model: str | None = None
    server_tools: tuple[str, ...] = ()  # the record's names of tool-server tools (``files__read``, ``files:*``)


@dataclass(frozen=True, slots=True)
class _Outcome:
    """The result of one tool call, as saved and sent back to the model."""

    content: str
    status: str  # ok | error | timeout
    duration_ms: float
    images: tuple[Image, ...] = ()  # a result's images the provider can take (an MCP tool's), stored with it

    @property
    def is_error(self) -> bool:
        return self.status != "ok"


@dataclass(slots=True)
class _Round:
    """One provider call: the assistant message it produced and the tools it asked for."""

    message_id: str | None = None
    text: str = ""
    thinking: str = ""
    calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)


@dataclass(slots=True)
class _Turn:
    """Mutable state of one turn, shared by its steps."""

    thread_id: str
    user_id: str
    model: str
    key: str
    system: str | None
    setup: _AgentSetup
    history: list[Message]
    first_exchange: bool
    usage: Usage = field(default_factory=Usage)
    reply_id: str | None = None
    partial: str = ""
    sees_images: bool | None = None  # asked of the provider once, when a tool result first brings an image


class _ReplyWriter:
    """Persists one streamed assistant message: a streaming row at the first token, timed flushes, a final state."""

    def __init__(self, store: Any, thread_id: str, model: str, interval: float) -> None:
        self._store = store
        self._thread_id = thread_id
        self._model = model
        self._interval = interval
        self._parts: list[str] = []
        self._thinking: list[str] = []
        self.blocks: list[dict[str, Any]] = []
        self._thinking_started: float | None = None
        self._thinking_ms: float | None = None
        self._dirty = False
        self._lock = asyncio.Lock()
        self._flusher: asyncio.Task[None] | None = None
        self.id: str | None = None

    @property
    def text(self) -> str:
        return "".join(self._parts)

    @property
    def thinking(self) -> str:
        return "".join(self._thinking)

    async def append(self, text: str) -> str:
        """Add a fragment; the first one creates the ``streaming`` row. Returns the message id."""
        self._parts.append(text)
        self._end_thinking()
        return await self._touch()

    async def append_thinking(self, text: str) -> str:
        """Add a fragment of thinking; saved like the text, in its own field. Returns the message id."""
        if self._thinking_started is None:
            self._thinking_started = time.monotonic()
        self._thinking.append(text)
        return await self._touch()

    def _end_thinking(self) -> None:
        """The reply (or a tool call) began: the thinking time is known."""
        if self._thinking_started is not None and self._thinking_ms is None:
            self._thinking_ms = round((time.monotonic() - self._thinking_started) * 1000, 1)

    def _meta(self) -> dict[str, Any] | None:
        self._end_thinking()
        return {"thinking_ms": self._thinking_ms} if self._thinking_ms is not None else None

    async def _touch(self) -> str:
        if self.id is not None:
            self._dirty = True
            return self.id
        add = asyncio.ensure_future(
            self._store.add(self._thread_id, "assistant", self.text, status="streaming", model=self._model,
                            thinking=self.thinking or None)
        )
        try:
            await _land(add)
        finally:
            # Cancelled while the row was being written: learn its id anyway, so
            # finish() can mark it interrupted instead of leaving it "streaming".
            if add.done() and not add.cancelled() and add.exception() is None:
                self.id = add.result()["id"]
        self._flusher = asyncio.create_task(self._flush_loop())
        return self.id  # type: ignore[return-value]

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            async with self._lock:
                if self._dirty and self.id is not None:
                    self._dirty = False
                    try:
                        await self._store.update(self.id, content=self.text, thinking=self.thinking or None)
                    except Exception:
                        # The final write carries the whole text and reports a lasting failure.
                        log.warning("Could not save the partial reply %s; it is saved when it ends.", self.id,
                                    exc_info=True)
                        return

    async def _stop_flusher(self) -> None:
        if self._flusher is None:
            return
        # Taking the lock first waits out a flush in flight, so the task is only
        # ever cancelled while it sleeps or waits, never half way through a write.
        async with self._lock:
            self._flusher.cancel()
        await asyncio.wait([self._flusher])
        self._flusher = None

    async def finish(
        self,
        status: str,
        *,
        tool_calls: Sequence[ToolCall] = (),
        usage: Usage | None = None,
        token_count: int | None = None,
        meta: dict[str, Any] | None = None,
    ) -> str | None:
        """Write the final state in one statement; a failed call with no text leaves no row."""
        await self._stop_flusher()
        calls = [call.model_dump() for call in tool_calls] or None
        usage_value = _usage_dict(usage) if usage is not None else None
        thinking = {"thinking": self.thinking or None, "thinking_blocks": self.blocks or None,
                    "meta": {**(self._meta() or {}), **(meta or {})} or None}
        if self.id is None:
            if status != "complete":
                return None
            record = await self._store.add(
                self._thread_id, "assistant", "", tool_calls=calls, status=status,
                model=self._model, usage=usage_value, token_count=token_count, **thinking,
            )
            self.id = record["id"]
            return self.id
        await self._store.update(
            self.id, content=self.text, status=status, usage=usage_value,
            token_count=token_count, tool_calls=calls, **thinking,
        )
        return self.id


_END = object()
_STALLED = object()


class _StallWatch:
    """Reads a provider stream in its own task, so a silence of ``after`` seconds mid-reply can be reported.

    The stream lives wholly in the reader task (opened, read and closed there). The reader stamps each
    event; one timer, armed at the first event and re-armed lazily, queues a stall marker when the last
    event is ``after`` seconds old. Per event the cost is a queue put and a time stamp.
    """

    def __init__(self, stream: AsyncIterator[Any], after: float, thread_id: str, writer: _ReplyWriter) -> None:
        self._stream = stream
        self._after = after
        self._thread_id = thread_id
        self._writer = writer
        # (event or marker, error, loop time: of the event, or of the last event before a stall)
        self._queue: asyncio.Queue[tuple[Any, BaseException | None, float]] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._last = 0.0
        self._timer: asyncio.TimerHandle | None = None

    async def _read(self) -> None:
        try:
            async with aclosing(self._stream) as events:  # type: ignore[type-var]
                async for event in events:
                    self._last = self._loop.time()
                    if self._timer is None:
                        self._timer = self._loop.call_at(self._last + self._after, self._check)
                    self._queue.put_nowait((event, None, self._last))
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # handed to the reading side, which raises it as the stream would have
            self._queue.put_nowait((_END, exc, 0.0))
            return
        self._queue.put_nowait((_END, None, 0.0))

    def _check(self) -> None:
        if self._loop.time() - self._last >= self._after:
            self._timer = None  # the next event re-arms it
            self._queue.put_nowait((_STALLED, None, self._last))
        else:
            self._timer = self._loop.call_at(self._last + self._after, self._check)

    async def events(self) -> AsyncIterator[Any]:
        """The stream's events with the stall events between them; the stream's error is raised here."""
        reader = asyncio.create_task(self._read())
        silent_since: float | None = None
        try:
            while True:
                item, error, stamp = await self._queue.get()
                if item is _END:
                    if error is not None:
                        raise error
                    return
                if item is _STALLED:
                    silent_since = stamp
                    silent = self._loop.time() - stamp
                    yield StreamStalled(self._thread_id, self._writer.id, silent, time.time() - silent)
                    continue
                if silent_since is not None:
                    yield StreamResumed(self._thread_id, self._writer.id, stamp - silent_since)
                    silent_since = None
                yield item
        finally:
            if self._timer is not None:
                self._timer.cancel()
            reader.cancel()
            await _land(asyncio.wait([reader]))


class AgentRunner:
    """Runs turns of a thread against one provider, with persistence, tools, guardrail, limits and jobs."""

    def __init__(
        self,
        conn: Any,
        auth: Authorizer | None,
        provider: Provider,
        memory: MemorySelector,
        judge_provider: Provider | None = None,
        tools: Sequence[Any] | None = None,
        rate_limiter: TurnLimiter | None = None,
        job_queue: JobSink | None = None,
        guardrail_policy: str = "warn",
        max_iterations: int = 10,
        tool_timeout: float | None = None,
        user_memory: bool = True,
        flush_interval: float = 0.25,
        stall_after: float | None = 20.0,
        thinking: Any = None,
        approve: ApproveFn | None = None,
        tool_servers: Sequence[Any] | None = None,
    ) -> None:
        from .store import AgentStore, MessageStore, ThreadStore, UserMemoryStore

        if guardrail_policy not in ("block", "warn", "flag", "off"):
            raise InvalidArgumentError("guardrail_policy must be 'block', 'warn', 'flag' or 'off'.")
        if max_iterations < 1:
            raise InvalidArgumentError("max_iterations must be at least 1.")
        self.conn = conn
        self.auth = auth
        self.provider = provider
        self.memory = memory
        self.judge_provider = judge_provider
        self.rate_limiter = rate_limiter
        self.job_queue = job_queue
        self.guardrail_policy = guardrail_policy
        self.max_iterations = max_iterations
        self.tool_timeout = tool_timeout
        self.user_memory = user_memory
        self.flush_interval = flush_interval
        self.stall_after = stall_after  # seconds without data mid-reply before StreamStalled; None: never
        from .providers.thinking import normalize_thinking

        self.thinking = normalize_thinking(thinking)  # None: the provider's own setting
        self._tool_items = list(tools) if tools is not None else None
        # Tool servers (MCP) list their tools only once started, so they join each turn's setup.
        self._tool_sources = [item for item in self._tool_items or () if _is_tool_source(item)]
        # Servers an agent record may pick tools from by name; started only when a record does.
        self._tool_servers = list(tool_servers or ())
        self.approve = approve
        self._messages = MessageStore(conn)
        self._threads = ThreadStore(conn)
        self._agents = AgentStore(conn)
        self._facts = UserMemoryStore(conn) if user_memory else None
        self._judge = self._make_judge()
        self._counter = self._make_counter()
        self._system_tokens: tuple[str | None, int] = (None, 0)  # the last system prompt and its count
        self._setups: dict[str | None, _AgentSetup] = {}
        self._images: dict[str, Image] = {}  # the last window's images, so each turn does not read them again
        self._runner_tools: dict[str, Any] | None = None
        self._thread_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        if job_queue is not None:
            self._register_jobs(job_queue)

    # ---- construction helpers

    def _make_judge(self) -> Any:
        if self.judge_provider is None or self.guardrail_policy == "off":
            return None
        from .guardrails import InjectionJudge

        return InjectionJudge(self.judge_provider)

    def _make_counter(self) -> Any:
        from .memory.tokens import TokenCounter

        # tiktoken (45-80 MiB) only for the models it is the tokenizer of; others are estimated
        return TokenCounter.for_model(self.provider.name, self.provider.model)

    def _register_jobs(self, queue: JobSink) -> None:
        from .workers import register_default_handlers

        register_default_handlers(queue, provider=self.provider, conn=self.conn)

    @property
    def tool_servers(self) -> list[Any]:
        """The tool servers (MCP) given in ``tools`` or ``tool_servers``, e.g. to show their state and a retry."""
        return [*self._tool_sources, *(s for s in self._tool_servers if s not in self._tool_sources)]

    async def aclose(self) -> None:
        """Stop the tool servers (MCP) given in ``tools``; the connection and provider stay the caller's."""
        for source in self.tool_servers:
            try:
                await source.aclose()
            except Exception:  # closing one must not keep the others running
                log.warning("Could not stop the tool server %r.", source, exc_info=True)

    def invalidate_cache(self) -> None:
        """Forget cached agent records (call after editing an agent's prompt or tools)."""
        self._setups.clear()

    # ---- public API

    async def run(self, thread_id: str, user_id: str, text: str, images: Sequence[Any] | None = None) -> str:
        """Run one turn and return the reply text; raises the turn's typed error on failure.

        ``images``: paths or bytes of PNG, JPEG, GIF or WebP images sent with ``text``.
        """
        return await self._final_text(self.run_stream(thread_id, user_id, text, images=images))

    async def resume(self, thread_id: str, user_id: str) -> str:
        """Answer the thread's last user message again and return the reply text."""
        return await self._final_text(self.resume_stream(thread_id, user_id))

    def run_stream(self, thread_id: str, user_id: str, text: str,
                   images: Sequence[Any] | None = None) -> AsyncIterator[TurnEvent]:
        """Run one turn, yielding its typed events; a failure ends the stream with ``TurnFailed``.

        Turns of one thread run one at a time: a second waits until the first has ended.
        ``images`` (paths or bytes) are checked before anything is saved and stored with the message.
        """
        return self._turn(thread_id, user_id, text, images)

    async def get_context_window(self, model: str | None = None) -> int | None:
        """The context window in effect (tokens) for ``model`` (default: the provider's): what the
        server reports (Ollama ``/api/show``, llama.cpp ``/props``, vLLM ``max_model_len``), else the known table."""
        return await self.provider.get_context_window(model or self.provider.model)

    def resume_stream(self, thread_id: str, user_id: str) -> AsyncIterator[TurnEvent]:
        """Answer the thread's last user message without saving a new one (regenerate, retry)."""
        return self._turn(thread_id, user_id, None)

    async def regenerate(self, thread_id: str, user_id: str) -> str:
        """Answer the thread's last user message again as a new alternative of its last reply; returns the text."""
        return await self._final_text(self.regenerate_stream(thread_id, user_id))

    def regenerate_stream(self, thread_id: str, user_id: str) -> AsyncIterator[TurnEvent]:
        """Like ``resume_stream``, but the reply it replaces stays on the same slot as another alternative.

        Starts with ``AlternativeStarted`` when there was a reply to keep; choose between them later with
        ``MessageStore.select_alternative``. A regeneration that writes no reply leaves the old one chosen.
        """
        return self._regenerate(thread_id, user_id)

    @staticmethod
    async def _final_text(stream: AsyncIterator[TurnEvent]) -> str:
        async with aclosing(stream) as events:  # type: ignore[type-var]
            async for event in events:
                if isinstance(event, TurnFinished):
                    return event.text
                if isinstance(event, TurnFailed):
                    raise event.error
        raise AgentError("The turn ended without a reply.")  # pragma: no cover - defensive

    # ---- the turn

    async def _turn(self, thread_id: str, user_id: str, text: str | None,
                    images: Sequence[Any] | None = None) -> AsyncIterator[TurnEvent]:
        # One turn of a thread at a time: a second one would save its message between the first
        # one's message and reply, and answer without seeing that reply.
        lock = self._thread_locks.setdefault(thread_id, asyncio.Lock())
        async with lock:
            async with aclosing(self._turn_steps(thread_id, user_id, text, images)) as events:
                async for event in events:
                    yield event

    async def _regenerate(self, thread_id: str, user_id: str) -> AsyncIterator[TurnEvent]:
        lock = self._thread_locks.setdefault(thread_id, asyncio.Lock())
        async with lock:
            try:
                await self._authorize(user_id, thread_id)  # before setting anything aside
                begun = await self._messages.begin_alternative(thread_id)
            except AgentError as exc:
                yield TurnFailed(thread_id, None, exc)
                return
            try:
                if begun is not None:
                    yield AlternativeStarted(thread_id, begun["replaces"], begun["index"], begun["count"])
                async with aclosing(self._turn_steps(thread_id, user_id, None)) as events:
                    async for event in events:
                        yield event
            finally:
                if begun is not None:
                    await _land(self._messages.end_alternative(begun))

    async def _turn_steps(self, thread_id: str, user_id: str, text: str | None,
                          images: Sequence[Any] | None = None) -> AsyncIterator[TurnEvent]:
        turn: _Turn | None = None
        try:
            await self._authorize(user_id, thread_id)
            thread = await self._threads.get(thread_id)
            setup = await self._setup_for(thread.get("agent_id"))
            if text is not None:
                pictures = await self._load_images(images)  # bad images fail the turn before anything is saved
                user_message_id = await self._save_user_message(thread_id, text, pictures)
                yield MessageSaved(thread_id, user_message_id, "user", "complete")
                model = self._model_for(thread, setup)
                if not await self._check_capabilities(model, pictures, setup):
                    # a model without tool support still answers; the agent's tools sit this turn out
                    setup = replace(setup, tools={}, definitions=(), server_tools=())
                    yield ToolsSkipped(thread_id, model)
                if self._judge is not None:
                    flag = await self._judge_message(thread_id, user_message_id, text)
                    if flag is not None:
                        yield flag
                        if flag.action == "blocked":
                            raise GuardrailBlockedError(
                                "The guardrail blocked this message as a likely prompt injection; "
                                "it was not sent to the model.",
                                reason=flag.reason,
                            )
            if text is not None:
                self._images.update((image.sha256, image) for image in pictures)  # just stored: no need to read back
            if self._tool_sources or setup.server_tools:  # after the user's message is saved: a start takes seconds
                setup, failures = await self._with_source_tools(setup)
                for failure in failures:
                    yield ToolServerFailed(thread_id, *failure)
            turn = await self._prepare(thread, setup, user_id, resume=text is None)
            async with aclosing(self._loop(turn)) as events:
                async for event in events:
                    yield event
        except AgentError as exc:
            if turn is not None and turn.reply_id is not None:
                yield MessageSaved(thread_id, turn.reply_id, "assistant", "error")
            yield TurnFailed(
                thread_id, turn.reply_id if turn else None, exc,
                partial_text=turn.partial if turn else "", status="error",
            )

    async def _authorize(self, user_id: str, thread_id: str) -> None:
        if self.auth is None:
            return
        if not await self.auth.check(user_id, "write", "thread", thread_id):
            raise PermissionDeniedError(
                f"User {user_id} may not write to thread {thread_id}; ask its owner for the editor role."
            )

    async def _save_user_message(self, thread_id: str, text: str, images: Sequence[Image] = ()) -> str:
        tokens = await self._count(Message(role="user", content=text)) + _IMAGE_TOKENS * len(images)
        record = await self._messages.add(thread_id, "user", text, token_count=tokens, images=images or None)
        return record["id"]

    async def _load_images(self, sources: Sequence[Any] | None) -> list[Image]:
        """The images to attach, read and typed, each checked against the provider's size limit."""
        from .images import check_size, load_images

        pictures = await load_images(sources)
        for image in pictures:
            check_size(image, self.provider.max_image_bytes, getattr(self.provider, "label", "") or self.provider.name)
        return pictures

    async def _check_capabilities(self, model: str, images: Sequence[Image], setup: _AgentSetup) -> bool:
        """A typed error before the request when the model says it cannot see images or think.

        Returns False when the model says it cannot call tools (the turn then goes without them).
        """
        thinking = self.thinking or getattr(self.provider, "thinking", None)
        thinks = thinking is not None and thinking.enabled
        if not images and not setup.definitions and not setup.server_tools and not thinks:
            return True
        try:
            caps = await self.provider.capabilities(model or None)
        except AgentError:
            return True  # unknown: the request itself will tell
        if caps is None:
            return True
        if images and "vision" not in caps:
            raise CapabilityError(
                f"The model {model} cannot see images; choose a model with vision (e.g. gemma3, llava, "
                "qwen2.5vl) and send the message again."
            )
        if thinks and "thinking" not in caps:
            raise CapabilityError(f"The model {model} cannot think; turn thinking off for it or choose a model "
                                  "that thinks (e.g. qwen3, deepseek-r1, gpt-oss).")
        return not ((setup.definitions or setup.server_tools) and "tools" not in caps)

    async def _count(self, message: Message) -> int:
        """The message's token count, cached on its row so the memory strategy never recounts it."""
        if not self._counter.loaded:
            await self._counter.load()
        if len(message.content) > _INLINE_COUNT_CHARS:
            return await asyncio.to_thread(self._counter.count_message, message)
        return self._counter.count_message(message)

    async def _count_system(self, system: str | None) -> int:
        """Tokens of the system prompt (with the facts block), which the strategy's budget must leave free."""
        if not system:
            return 0
        if self._system_tokens[0] != system:
            if not self._counter.loaded:
                await self._counter.load()
            self._system_tokens = (system, self._counter.count(system))
        return self._system_tokens[1]

    async def _judge_message(self, thread_id: str, message_id: str, text: str) -> GuardrailFlagged | None:
        """Judge the user's text, store the verdict on its message, and say what was done."""
        from .guardrails import apply_policy

        verdict = await self._judge.judge(text)
        action = apply_policy(verdict, self.guardrail_policy)
        await self._messages.update(
            message_id,
            guardrail={"injection": bool(verdict.injection), "reason": verdict.reason, "action": action},
        )
        if action is None:
            return None
        return GuardrailFlagged(thread_id, message_id, bool(verdict.injection), verdict.reason, action)

    async def _prepare(self, thread: Mapping[str, Any], setup: _AgentSetup, user_id: str, resume: bool) -> _Turn:
        """Build the context of a turn (``memory.context.build_context``, the one place that does)."""
        context = await self.context(thread, setup, user_id, resume=resume)
        return _Turn(
            thread_id=thread["id"],
            user_id=user_id,
            model=context.model,
            key=f"{self.provider.name}:{context.model}",
            system=context.system,
            setup=setup,
            history=list(context.messages),
            first_exchange=thread.get("title") is None and not context.earlier_user,
        )

    async def _images_of(self, records: Sequence[Mapping[str, Any]]) -> dict[str, Image]:
        """The bytes of every image the window's messages show: each is sent again with its message."""
        refs = [ref for record in records for ref in record.get("images") or ()]
        known = {ref["sha256"]: self._images[ref["sha256"]] for ref in refs if ref["sha256"] in self._images}
        missing = [ref for ref in refs if ref["sha256"] not in known]
        if missing:
            from .store.images import ImageStore

            known.update(await ImageStore(self.conn).get_many(missing))
        self._images = known
        return known

    def _model_for(self, thread: Mapping[str, Any], setup: _AgentSetup) -> str:
        """The thread's chosen model, else the provider's, else the agent record's."""
        from .memory.context import model_for

        return model_for(thread, self.provider.name, self.provider.model,
                         {"provider": setup.provider, "model": setup.model})

    async def context(self, thread: Mapping[str, Any] | None, setup: _AgentSetup | None = None,
                      user_id: str = "", *, resume: bool = False) -> TurnContext:
        """What the next turn of ``thread`` sends with this runner's provider, memory strategy and counter."""
        from .memory.context import build_context, model_for

        if setup is None:
            setup = await self._setup_for((thread or {}).get("agent_id"))
        agent = {"provider": setup.provider, "model": setup.model}
        model = model_for(thread, self.provider.name, self.provider.model, agent)
        try:
            window = await self.provider.get_context_window(model or None)
        except AgentError:
            window = None  # the request itself will report an unreachable server
        return await build_context(
            messages=self._messages, facts=self._facts, user_id=user_id, thread=thread,
            prompt=setup.system_prompt, strategy=self.memory, counter=self._counter,
            provider=self.provider.name, model=model, window=window, images=self._images_of,
            resume=resume, count_system=self._count_system,
        )

    # ---- agent records and tools

    async def _setup_for(self, agent_id: str | None) -> _AgentSetup:
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
            server_tools = tuple(n for n in names if any(_names_server(n, s.name) for s in self._tool_servers))
            tools = self._tools_by_name([n for n in names if n not in server_tools])
        setup = _AgentSetup(
            system_prompt=(record or {}).get("system_prompt") or "",
            tools=tools,
            definitions=tuple(tool.get_definition() for tool in tools.values()),
            provider=(record or {}).get("provider"),
            model=(record or {}).get("model"),
            server_tools=server_tools,
        )
        self._setups[agent_id] = setup
        return setup

    def _resolved_runner_tools(self) -> dict[str, Any]:
        if self._runner_tools is None:
            from .tools import resolve_tools

            items = [item for item in self._tool_items or [] if not _is_tool_source(item)]
            self._runner_tools = {t.name: t for t in resolve_tools(items)}
        return self._runner_tools

    async def _with_source_tools(self, setup: _AgentSetup) -> tuple[_AgentSetup, list[tuple[str, AgentError, str]]]:
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

    def _sources_for(self, setup: _AgentSetup) -> list[tuple[Any, bool]]:
        """(server, picked by name?): every server of ``tools=``, and the ``tool_servers`` the record names."""
        pairs = [(source, False) for source in self._tool_sources]
        pairs += [(server, True) for server in self._tool_servers
                  if any(_names_server(name, server.name) for name in setup.server_tools)]
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

    # ---- provider rounds and the tool loop

    async def _loop(self, turn: _Turn) -> AsyncIterator[TurnEvent]:
        """Call the provider, run the tools it asks for, and repeat until it answers."""
        last = _Round()
        for _ in range(self.max_iterations):
            last = _Round()
            # aclosing: a consumer that stops listening closes the inner steps now,
            # so their cleanup (marking the reply interrupted) runs before we return.
            async with aclosing(self._provider_round(turn, last)) as events:
                async for event in events:
                    yield event
            if not last.calls:
                break
            async with aclosing(self._tool_round(turn, last)) as events:
                async for event in events:
                    yield event
        else:
            raise ToolError(
                f"The model was still calling tools after {self.max_iterations} rounds, so the turn "
                "stopped; send another message to let it continue."
            )
        await self._enqueue_jobs(turn)
        yield TurnFinished(turn.thread_id, last.message_id or "", last.text, turn.usage, last.thinking)

    async def _provider_round(self, turn: _Turn, result: _Round) -> AsyncIterator[TurnEvent]:
        """Stream one provider call into a saved assistant message; its outcome lands in ``result``."""
        if self.rate_limiter is not None:
            async with aclosing(self._wait_for_rate_limit(turn)) as waits:
                async for event in waits:
                    yield event
        writer = _ReplyWriter(self._messages, turn.thread_id, turn.model, self.flush_interval)
        calls: dict[int, ToolCall] = {}
        usage = Usage()
        options: dict[str, Any] = {"model": turn.model} if turn.model else {}
        if self.thinking is not None:
            options["thinking"] = self.thinking
        sent = time.perf_counter()
        first_text: float | None = None
        history = await self._history_for_model(turn)
        stream = self.provider.stream(history, system=turn.system, tools=list(turn.setup.definitions) or None,
                                      **options)
        try:
            async with aclosing(self._watch_stalls(turn, stream, writer)) as events:
                async for event in events:
                    if isinstance(event, (StreamStalled, StreamResumed)):
                        yield event
                    elif isinstance(event, TextDeltaEvent):
                        if event.text:
                            if first_text is None:
                                first_text = time.perf_counter()
                            yield TextDelta(turn.thread_id, await writer.append(event.text), event.text)
                    elif isinstance(event, ThinkingDeltaEvent):
                        if event.text:
                            yield ThinkingDelta(turn.thread_id, await writer.append_thinking(event.text), event.text)
                    elif isinstance(event, ThinkingBlockEvent):
                        writer.blocks.append(event.block)
                    elif isinstance(event, ToolCallEndEvent):
                        calls[event.index] = event.call
                    elif isinstance(event, UsageEvent):
                        usage = event.usage
            result.calls = [calls[i] for i in sorted(calls)]
            message = Message(role="assistant", content=writer.text, tool_calls=result.calls,
                              thinking=writer.thinking, thinking_blocks=list(writer.blocks))
            tokens = await self._count(message)  # may run in a thread: a stop can land here too
        except BaseException as exc:
            # Cancellation (or a consumer that stopped listening) leaves the reply
            # interrupted; a provider error leaves it in error. Partial text is kept.
            status = "error" if isinstance(exc, Exception) else "interrupted"
            turn.reply_id = await _land(writer.finish(status, usage=usage))
            turn.partial = writer.text
            raise
        result.text = writer.text
        result.thinking = writer.thinking
        result.usage = usage
        turn.usage = turn.usage + usage
        timing = _timing(sent, first_text, time.perf_counter())
        result.message_id = await _land(
            writer.finish("complete", tool_calls=result.calls, usage=usage, token_count=tokens, meta=timing)
        )
        message.id = result.message_id
        turn.history.append(message)
        if self.rate_limiter is not None:
            await self.rate_limiter.record(turn.key, usage.total_tokens)
        yield UsageReported(turn.thread_id, usage, turn.model or None, timing.get("ttft_ms"), timing["duration_ms"])
        yield MessageSaved(turn.thread_id, result.message_id or "", "assistant", "complete")

    def _watch_stalls(self, turn: _Turn, stream: AsyncIterator[Any], writer: _ReplyWriter) -> AsyncIterator[Any]:
        """The provider's events, plus ``StreamStalled``/``StreamResumed`` around a silence mid-reply."""
        if not self.stall_after:
            return stream
        return _StallWatch(stream, self.stall_after, turn.thread_id, writer).events()

    async def _wait_for_rate_limit(self, turn: _Turn) -> AsyncIterator[TurnEvent]:
        """Reserve a request with the limiter, announcing each wait before sleeping it."""
        limiter = self.rate_limiter
        assert limiter is not None
        chars = sum(len(m.content) for m in turn.history) + len(turn.system or "")
        estimate = chars // 4 + 1
        # try_acquire reserves atomically or says how long to wait, so the wait is announced first.
        while (wait := await limiter.try_acquire(turn.key, estimate)) > 0:
            yield RateLimitWait(turn.thread_id, turn.key, wait)
            await asyncio.sleep(wait)

    async def _tool_round(self, turn: _Turn, round_: _Round) -> AsyncIterator[TurnEvent]:
        """Run the round's tool calls concurrently; save and report each result as it finishes."""
        message_id = round_.message_id or ""
        done: asyncio.Queue[tuple[ToolCall, float, _Outcome]] = asyncio.Queue()
        declined: set[str] = set()
        tasks: list[asyncio.Task[None]] = []
        saved: set[str] = set()
        try:
            for call in round_.calls:
                if self.approve is not None and call.name in turn.setup.tools:
                    # Asked one call at a time, in the model's order, before any of them runs.
                    decision = await self._approval(turn, call)
                    if not decision.approved:
                        declined.add(call.id)
                    yield decision
            for call in round_.calls:
                started = time.time()
                yield ToolCallStarted(turn.thread_id, message_id, call.id, call.name, call.arguments, started,
                                      _server_of(turn, call))
            tasks = [asyncio.create_task(self._run_tool(turn, call, done, call.id in declined))
                     for call in round_.calls]
            for _ in tasks:
                call, started, outcome = await done.get()
                result_id = await self._save_tool_result(turn, call, started, outcome)
                saved.add(call.id)
                yield MessageSaved(turn.thread_id, result_id, "tool", "complete")
                yield ToolCallFinished(
                    turn.thread_id, message_id, call.id, call.name, call.arguments,
                    result=None if outcome.is_error else outcome.content,
                    error=outcome.content if outcome.is_error else None,
                    duration_ms=outcome.duration_ms, status=outcome.status,  # type: ignore[arg-type]
                    result_message_id=result_id, server=_server_of(turn, call),
                )
        finally:
            for task in tasks:
                task.cancel()
            if tasks:
                await _land(asyncio.wait(tasks))
            unfinished = [c for c in round_.calls if c.id not in saved]
            if unfinished:  # cancelled mid-tool: keep calls and results paired in the store
                await _land(self._save_cancelled(turn, unfinished))

    async def _approval(self, turn: _Turn, call: ToolCall) -> ToolApproval:
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
        return ToolApproval(turn.thread_id, call.id, name, server, dict(call.arguments), approved)

    async def _run_tool(self, turn: _Turn, call: ToolCall, done: asyncio.Queue, declined: bool = False) -> None:
        started = time.time()
        if declined:
            outcome = _Outcome(_DECLINED_TOOL.format(name=call.name), "error", 0.0)
        else:
            outcome = await self._execute(turn, call)
        done.put_nowait((call, started, outcome))

    async def _execute(self, turn: _Turn, call: ToolCall) -> _Outcome:
        """Run one tool call; every failure becomes an error result for the model, never an exception."""
        tool = turn.setup.tools.get(call.name)
        if tool is None:
            return _Outcome(f"There is no tool named {call.name!r}.", "error", 0.0)
        from .tools import ToolContext
        from .tools.base import WaitExpired, wait_or_abandon

        context = ToolContext(conn=self.conn, user_id=turn.user_id, thread_id=turn.thread_id)
        started = time.perf_counter()
        try:
            # Not asyncio.wait_for: it waits for the cancelled tool to end, forever if the tool ignores it.
            result = await wait_or_abandon(tool.run(call.arguments, context), self.tool_timeout)
        except WaitExpired:
            elapsed = (time.perf_counter() - started) * 1000
            return _Outcome(f"The tool {call.name} did not finish within {self.tool_timeout} seconds.",
                            "timeout", elapsed)
        except Exception as exc:  # a tool must never break the turn
            log.warning("Tool %s raised unexpectedly.", call.name, exc_info=True)
            elapsed = (time.perf_counter() - started) * 1000
            return _Outcome(f"The tool {call.name} failed: {exc}", "error", elapsed)
        status = getattr(result, "status", None) or ("error" if result.is_error else "ok")
        images, notes = await self._sendable_images(getattr(result, "images", None) or ())
        content = "\n".join([str(result.content), *notes]) if notes else str(result.content)
        return _Outcome(content, status, float(result.duration_ms), images)

    async def _sendable_images(self, raw: Sequence[Any]) -> tuple[tuple[Image, ...], list[str]]:
        """A tool result's images as the provider can take them, and a note for each left out."""
        if not raw:
            return (), []
        try:
            return await asyncio.to_thread(_sendable_images, raw, self.provider.max_image_bytes)
        except Exception:  # a broken image must not lose the result's text (nor hang the round)
            log.warning("A tool result's images could not be read; the text goes without them.", exc_info=True)
            return (), ["[The result's images could not be read, so they were not sent to the model.]"]

    async def _history_for_model(self, turn: _Turn) -> list[Message]:
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
        return [_images_as_note(m, turn.model) if m.role == "tool" and m.images else m for m in turn.history]

    async def _save_tool_result(self, turn: _Turn, call: ToolCall, started: float, outcome: _Outcome) -> str:
        meta = {
            "name": call.name, "arguments": call.arguments, "started_at": started,
            "duration_ms": outcome.duration_ms, "status": outcome.status,
        }
        if server := _server_of(turn, call):
            meta["server"] = server  # the inspector names an MCP tool's server, also after a restart
        tokens = await self._count(Message(role="tool", content=outcome.content, tool_call_id=call.id))
        tokens += _IMAGE_TOKENS * len(outcome.images)
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

    async def _save_cancelled(self, turn: _Turn, calls: Sequence[ToolCall]) -> None:
        for call in calls:
            await self._save_tool_result(turn, call, time.time(), _Outcome(_CANCELLED_TOOL, "error", 0.0))

    # ---- background jobs

    async def _enqueue_jobs(self, turn: _Turn) -> None:
        """Queue the title and memory jobs; a queue failure is logged and never fails the turn."""
        if self.job_queue is None:
            return
        jobs: list[tuple[str, dict[str, Any]]] = []
        if turn.first_exchange:
            jobs.append((TITLE_JOB, {"thread_id": turn.thread_id}))
        if self.user_memory:
            jobs.append((MEMORY_JOB, {"thread_id": turn.thread_id, "user_id": turn.user_id}))
        for name, payload in jobs:
            try:
                await self.job_queue.enqueue(name, payload)
            except Exception:
                log.warning("Could not enqueue the %s job for thread %s.", name, turn.thread_id, exc_info=True)
