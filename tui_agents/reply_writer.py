"""A streamed reply on its way to the store (``ReplyWriter``), and the watch that reports a silent stream."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from functools import cache
from typing import Any

from . import events as turn_events  # made at first use (events.py)
from .providers import base as stream_events  # made at first use too (providers/base.py)
from .types import ToolCall, Usage
from .turn_state import land, usage_dict

log = logging.getLogger(__name__)


class ReplyWriter:
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
            await land(add)
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
        usage_value = usage_dict(usage) if usage is not None else None
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
# Deltas of one kind that are already read when the first is handed on go on as one: a fast stream (many
# chunks per network read) then costs one event per read above this point, not one per chunk.
@cache
def _merged() -> tuple[type, ...]:
    """The delta classes that are joined (asked for once a reply streams: the classes are made at first use)."""
    return (stream_events.TextDeltaEvent, stream_events.ThinkingDeltaEvent)


class StallWatch:
    """Reads a provider stream in its own task, so a silence of ``after`` seconds mid-reply can be reported.

    The stream lives wholly in the reader task (opened, read and closed there). The reader stamps each
    event; one timer, armed at the first event and re-armed lazily, queues a stall marker when the last
    event is ``after`` seconds old. Per event the cost is a queue put and a time stamp.
    """

    def __init__(self, stream: AsyncIterator[Any], after: float, thread_id: str, writer: ReplyWriter) -> None:
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

    def _joined(self, first: Any) -> tuple[Any, tuple[Any, BaseException | None, float] | None]:
        """``first`` with the deltas of its kind queued right behind it; and the entry after them, if taken."""
        kind = type(first)
        parts = [first.text]
        queue = self._queue
        while not queue.empty():
            entry = queue.get_nowait()
            if type(entry[0]) is not kind:
                return kind("".join(parts)), entry
            parts.append(entry[0].text)
        return kind("".join(parts)), None

    def _check(self) -> None:
        if self._loop.time() - self._last >= self._after:
            self._timer = None  # the next event re-arms it
            self._queue.put_nowait((_STALLED, None, self._last))
        else:
            self._timer = self._loop.call_at(self._last + self._after, self._check)

    async def events(self) -> AsyncIterator[Any]:
        """The stream's events with the stall events between them; the stream's error is raised here.

        Text (or thinking) deltas already read behind the one handed on are joined to it: every character
        comes, in order, in fewer events.
        """
        reader = asyncio.create_task(self._read())
        silent_since: float | None = None
        held: tuple[Any, BaseException | None, float] | None = None
        try:
            while True:
                if held is None:
                    item, error, stamp = await self._queue.get()
                else:
                    (item, error, stamp), held = held, None
                if item is _END:
                    if error is not None:
                        raise error
                    return
                if item is _STALLED:
                    silent_since = stamp
                    silent = self._loop.time() - stamp
                    yield turn_events.StreamStalled(self._thread_id, self._writer.id, silent, time.time() - silent)
                    continue
                if silent_since is not None:
                    yield turn_events.StreamResumed(self._thread_id, self._writer.id, stamp - silent_since)
                    silent_since = None
                if not self._queue.empty() and type(item) in _merged():
                    item, held = self._joined(item)
                yield item
        finally:
            if self._timer is not None:
                self._timer.cancel()
            reader.cancel()
            await land(asyncio.wait([reader]))
