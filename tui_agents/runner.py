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

Its parts: ``turn_state`` (what a turn carries), ``reply_writer`` (the reply on its
way to the store, the stall watch) and ``tool_rounds`` (tools, approval, tool calls).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from .errors import (
    AgentError,
    CapabilityError,
    GuardrailBlockedError,
    InvalidArgumentError,
    PermissionDeniedError,
    ToolError,
)
from . import events as turn_events  # made at first use (events.py): named there only when a turn needs one
from .events import MessageSaved
from .providers import base as provider_events
from .providers.base import Provider
from .memory.context import TurnContext, counted_after_reply
from .reply_writer import ReplyWriter, StallWatch
from .tool_rounds import ApproveFn, ToolRounds, is_tool_source
from .turn_state import IMAGE_TOKENS, AgentSetup, Round, Turn, land, reply_timing
from .types import Image, Message, ToolCall, Usage

if TYPE_CHECKING:  # pragma: no cover
    from .events import GuardrailFlagged, TurnEvent

__all__ = ["AgentRunner", "Authorizer", "JobSink", "MemorySelector", "TurnLimiter"]

log = logging.getLogger(__name__)


# Texts longer than this are counted in a thread: tiktoken would block the loop.
_INLINE_COUNT_CHARS = 4000


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


class AgentRunner(ToolRounds):
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
        self._tool_sources = [item for item in self._tool_items or () if is_tool_source(item)]
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
        self._setups: dict[str | None, AgentSetup] = {}
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
                if isinstance(event, turn_events.TurnFinished):
                    return event.text
                if isinstance(event, turn_events.TurnFailed):
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
                yield turn_events.TurnFailed(thread_id, None, exc)
                return
            try:
                if begun is not None:
                    yield turn_events.AlternativeStarted(thread_id, begun["replaces"], begun["index"], begun["count"])
                async with aclosing(self._turn_steps(thread_id, user_id, None)) as events:
                    async for event in events:
                        yield event
            finally:
                if begun is not None:
                    await land(self._messages.end_alternative(begun))

    async def _turn_steps(self, thread_id: str, user_id: str, text: str | None,
                          images: Sequence[Any] | None = None) -> AsyncIterator[TurnEvent]:
        turn: Turn | None = None
        uncounted: tuple[str, str] | None = None  # the user's message, when counted only after the reply
        try:
            await self._authorize(user_id, thread_id)
            thread = await self._threads.get(thread_id)
            setup = await self._setup_for(thread.get("agent_id"))
            if text is not None:
                pictures = await self._load_images(images)  # bad images fail the turn before anything is saved
                later = not pictures and await counted_after_reply(self._counter, self._messages, thread_id)
                user_message_id = await self._save_user_message(thread_id, text, pictures, counted=not later)
                uncounted = (user_message_id, text) if later else None
                yield MessageSaved(thread_id, user_message_id, "user", "complete")
                model = self._model_for(thread, setup)
                if not await self._check_capabilities(model, pictures, setup):
                    # a model without tool support still answers; the agent's tools sit this turn out
                    setup = replace(setup, tools={}, definitions=(), server_tools=())
                    yield turn_events.ToolsSkipped(thread_id, model)
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
                    yield turn_events.ToolServerFailed(thread_id, *failure)
            turn = await self._prepare(thread, setup, user_id, resume=text is None, uncounted=uncounted)
            async with aclosing(self._loop(turn)) as events:
                async for event in events:
                    yield event
        except AgentError as exc:
            if turn is not None and turn.reply_id is not None:
                yield MessageSaved(thread_id, turn.reply_id, "assistant", "error")
            yield turn_events.TurnFailed(
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

    async def _save_user_message(self, thread_id: str, text: str, images: Sequence[Image] = (),
                                 counted: bool = True) -> str:
        tokens = await self._count(Message(role="user", content=text)) + IMAGE_TOKENS * len(images) if counted else None
        record = await self._messages.add(thread_id, "user", text, token_count=tokens, images=images or None)
        return record["id"]

    async def _load_images(self, sources: Sequence[Any] | None) -> list[Image]:
        """The images to attach, read and typed, each checked against the provider's size limit."""
        from .images import check_size, load_images

        pictures = await load_images(sources)
        for image in pictures:
            check_size(image, self.provider.max_image_bytes, getattr(self.provider, "label", "") or self.provider.name)
        return pictures

    async def _check_capabilities(self, model: str, images: Sequence[Image], setup: AgentSetup) -> bool:
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
        return turn_events.GuardrailFlagged(thread_id, message_id, bool(verdict.injection), verdict.reason, action)

    async def _prepare(self, thread: Mapping[str, Any], setup: AgentSetup, user_id: str, resume: bool,
                       uncounted: tuple[str, str] | None = None) -> Turn:
        """Build the context of a turn (``memory.context.build_context``, the one place that does); with
        ``uncounted`` (see ``counted_after_reply``) on estimated counts, none of them saved."""
        context = await self.context(thread, setup, user_id, resume=resume, _estimate=uncounted is not None)
        return Turn(
            thread_id=thread["id"],
            user_id=user_id,
            model=context.model,
            key=f"{self.provider.name}:{context.model}",
            system=context.system,
            setup=setup,
            history=list(context.messages),
            first_exchange=thread.get("title") is None and not context.earlier_user,
            uncounted=uncounted,
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

    def _model_for(self, thread: Mapping[str, Any], setup: AgentSetup) -> str:
        """The thread's chosen model, else the provider's, else the agent record's."""
        from .memory.context import model_for

        return model_for(thread, self.provider.name, self.provider.model,
                         {"provider": setup.provider, "model": setup.model})

    async def context(self, thread: Mapping[str, Any] | None, setup: AgentSetup | None = None,
                      user_id: str = "", *, resume: bool = False, _estimate: bool = False) -> TurnContext:
        """What the next turn of ``thread`` sends with this runner's provider, memory strategy and counter."""
        from .memory.context import build_context, model_for
        from .memory.tokens import TokenCounter

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
            prompt=setup.system_prompt, strategy=self.memory,
            counter=TokenCounter(None, save_counts=False) if _estimate else self._counter,
            provider=self.provider.name, model=model, window=window, images=self._images_of,
            resume=resume, count_system=None if _estimate else self._count_system,
        )
    # ---- provider rounds and the tool loop

    async def _loop(self, turn: Turn) -> AsyncIterator[TurnEvent]:
        """Call the provider, run the tools it asks for, and repeat until it answers."""
        last = Round()
        for _ in range(self.max_iterations):
            last = Round()
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
        if turn.uncounted is not None:  # counting the reply loaded the tokenizer: this exact count is cheap
            message_id, text = turn.uncounted
            await self._messages.set_token_counts({message_id: await self._count(Message(role="user", content=text))})
        yield turn_events.TurnFinished(turn.thread_id, last.message_id or "", last.text, turn.usage, last.thinking)

    async def _provider_round(self, turn: Turn, result: Round) -> AsyncIterator[TurnEvent]:
        """Stream one provider call into a saved assistant message; its outcome lands in ``result``."""
        if self.rate_limiter is not None:
            async with aclosing(self._wait_for_rate_limit(turn)) as waits:
                async for event in waits:
                    yield event
        writer = ReplyWriter(self._messages, turn.thread_id, turn.model, self.flush_interval)
        calls: dict[int, ToolCall] = {}
        usage, reported = Usage(), False
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
                    if isinstance(event, (turn_events.StreamStalled, turn_events.StreamResumed)):
                        yield event
                    elif isinstance(event, provider_events.TextDeltaEvent):
                        if event.text:
                            if first_text is None:
                                first_text = time.perf_counter()
                            yield turn_events.TextDelta(turn.thread_id, await writer.append(event.text), event.text)
                    elif isinstance(event, provider_events.ThinkingDeltaEvent):
                        if event.text:
                            message_id = await writer.append_thinking(event.text)
                            yield turn_events.ThinkingDelta(turn.thread_id, message_id, event.text)
                    elif isinstance(event, provider_events.ThinkingBlockEvent):
                        writer.blocks.append(event.block)
                    elif isinstance(event, provider_events.ToolCallEndEvent):
                        calls[event.index] = event.call
                    elif isinstance(event, provider_events.UsageEvent):
                        usage, reported = event.usage, True
            result.calls = [calls[i] for i in sorted(calls)]
            message = Message(role="assistant", content=writer.text, tool_calls=result.calls,
                              thinking=writer.thinking, thinking_blocks=list(writer.blocks))
            tokens = await self._count(message)  # may run in a thread: a stop can land here too
        except BaseException as exc:
            # Cancellation (or a consumer that stopped listening) leaves the reply
            # interrupted; a provider error leaves it in error. Partial text is kept.
            status = "error" if isinstance(exc, Exception) else "interrupted"
            # no usage reported before the failure: store none, not a reply of 0 tokens
            turn.reply_id = await land(writer.finish(status, usage=usage if reported else None))
            turn.partial = writer.text
            raise
        result.text = writer.text
        result.thinking = writer.thinking
        result.usage = usage
        turn.usage = turn.usage + usage
        timing = reply_timing(sent, first_text, time.perf_counter())
        result.message_id = await land(
            writer.finish("complete", tool_calls=result.calls, usage=usage, token_count=tokens, meta=timing)
        )
        message.id = result.message_id
        turn.history.append(message)
        if self.rate_limiter is not None:
            await self.rate_limiter.record(turn.key, usage.total_tokens)
        yield turn_events.UsageReported(turn.thread_id, usage, turn.model or None, timing.get("ttft_ms"),
                                        timing["duration_ms"])
        yield MessageSaved(turn.thread_id, result.message_id or "", "assistant", "complete")

    def _watch_stalls(self, turn: Turn, stream: AsyncIterator[Any], writer: ReplyWriter) -> AsyncIterator[Any]:
        """The provider's events, plus ``StreamStalled``/``StreamResumed`` around a silence mid-reply."""
        if not self.stall_after:
            return stream
        return StallWatch(stream, self.stall_after, turn.thread_id, writer).events()

    async def _wait_for_rate_limit(self, turn: Turn) -> AsyncIterator[TurnEvent]:
        """Reserve a request with the limiter, announcing each wait before sleeping it."""
        limiter = self.rate_limiter
        assert limiter is not None
        chars = sum(len(m.content) for m in turn.history) + len(turn.system or "")
        estimate = chars // 4 + 1
        # try_acquire reserves atomically or says how long to wait, so the wait is announced first.
        while (wait := await limiter.try_acquire(turn.key, estimate)) > 0:
            yield turn_events.RateLimitWait(turn.thread_id, turn.key, wait)
            await asyncio.sleep(wait)


    # ---- background jobs

    async def _enqueue_jobs(self, turn: Turn) -> None:
        """Queue the title and memory jobs; a queue failure is logged and never fails the turn."""
        if self.job_queue is None:
            return
        from .workers import MEMORY_JOB, TITLE_JOB  # the handlers' modules: not needed before a request

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
