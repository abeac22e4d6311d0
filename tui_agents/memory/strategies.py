"""Memory strategies: which messages of a thread go into the model's context.

Every strategy chooses whole units (see ``units``): an assistant message that
calls tools always travels with the tool messages that answer it, and a context
never starts with a ``tool`` message. ``select`` reads only the end of a
thread (light rows, in growing chunks, newest first) and then loads just the
chosen messages, so a 100,000-message thread costs about what a short one does.

What ``select`` returns is exactly what the model is sent (the TUI memory
panel shows it). Every returned record has ``token_count`` filled: missing
counts are computed with the ``TokenCounter`` and cached in one
``set_token_counts`` call. Two things are left out at that last step because a
provider would reject them: a tool call whose results are not all stored (a
crash between the call and its results) together with the results it has, and
an unfinished reply with no text and no tool calls (e.g. an ``error`` before
the first token). Interrupted or failed replies that have text are kept. Light
rows cannot show these, so when one turns up the choice is made again without
it, and it never takes the place of a message that can be sent.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import InvalidArgumentError
from .tokens import MESSAGE_OVERHEAD, TokenCounter
from .units import Unit, build_units, choose_head, choose_tail, drop_broken, units_backward

__all__ = [
    "MemoryStrategy",
    "LastNStrategy",
    "FirstLastStrategy",
    "TokenWindowStrategy",
    "STRATEGIES",
    "DEFAULT_STRATEGY",
    "get_memory_strategy",
]

Row = Mapping[str, Any]
Record = Mapping[str, Any]

DEFAULT_STRATEGY = "last_n"
_COUNT_BATCH = 256  # messages counted per get_many on a cold thread
_MAX_CHUNK = 16_384


class _Params(BaseModel):
    """Strategy parameters: whole numbers only (no bools, no strings), nothing unknown."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)


@dataclass
class _Call:
    """One ``select`` call: where to read, what was counted, what turned out broken."""

    messages: Any
    thread_id: str
    counter: TokenCounter
    reserve_tokens: int
    counts: dict[str, int] = field(default_factory=dict)  # counted now, written back once
    exclude: set[str] = field(default_factory=set)  # ids ``drop_broken`` removed on a first pass

    def rows(self, rows: Sequence[Row]) -> Sequence[Row]:
        """``rows`` without the ones found broken on a first pass."""
        return [row for row in rows if row["id"] not in self.exclude] if self.exclude else rows

    def units(self, rows: Sequence[Row], *, to_end: bool = True) -> list[Unit]:
        """Units of rows that begin at the thread's start, oldest first."""
        return build_units(self.rows(rows), to_end=to_end)


class _Tail:
    """The end of a thread, read backward in growing chunks of light rows."""

    def __init__(self, call: _Call, chunk: int) -> None:
        self.call = call
        self.chunk = max(8, chunk)
        self.rows: list[Row] = []
        self.at_start = False

    async def grow(self) -> None:
        """Prepend the next older chunk; sets ``at_start`` once the first message is read."""
        before = self.rows[0]["position"] if self.rows else None
        older = await self.call.messages.list_light(self.call.thread_id, limit=self.chunk, before=before)
        self.at_start = len(older) < self.chunk
        self.rows = [*older, *self.rows]
        self.chunk = min(self.chunk * 4, _MAX_CHUNK)

    def units(self) -> Iterator[Unit]:
        """The units read so far, newest first."""
        return units_backward(self.call.rows(self.rows), from_start=self.at_start)


class MemoryStrategy(abc.ABC):
    """Chooses the messages of a thread that fit in the model's context."""

    name: ClassVar[str]
    Params: ClassVar[type[_Params]]

    def __init__(self, **params: Any) -> None:
        try:
            self.params_model = self.Params(**params)
        except ValidationError as exc:
            raise InvalidArgumentError(_plain_error(self.name, self.Params, exc)) from None

    @property
    def params(self) -> dict[str, Any]:
        """The parameters, as stored in an agent record's ``memory_params``."""
        return self.params_model.model_dump()

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"get_memory_strategy({self.name!r}, {args})"

    @abc.abstractmethod
    def describe(self) -> str:
        """One short line for the memory panel, e.g. ``last 20 messages``."""

    @abc.abstractmethod
    def select_rows(self, rows: Sequence[Row], reserve_tokens: int = 0) -> list[str]:
        """Ids chosen from a whole thread's light rows, in conversation order; pure and sync.

        The same choice ``select`` makes, before it drops broken units (see the module doc).
        """

    @abc.abstractmethod
    async def _choose(self, call: _Call) -> list[Row]:
        """The chosen light rows, reading as little of the thread as possible."""

    async def select(self, messages: Any, thread_id: str, counter: TokenCounter | None = None,
                     reserve_tokens: int = 0, max_tokens: int | None = None) -> list[Record]:
        """The message records to send, in conversation order, each with ``token_count`` set.

        ``messages`` is a ``MessageStore``; without ``counter`` a default ``TokenCounter`` is used.
        ``max_tokens`` (the model's context window) caps any strategy's choice: the oldest units
        go until the rest and ``reserve_tokens`` fit, the newest unit always stays. A message's
        thinking is not in its ``token_count``: earlier turns' thinking is never sent again.
        """
        call = _Call(messages, thread_id, counter or TokenCounter(), reserve_tokens)
        while True:  # ends: each extra pass excludes at least one more message
            rows = await self._choose(call)
            missing = [row["id"] for row in rows if row["token_count"] is None and row["id"] not in call.counts]
            if missing:
                call.counts.update(await _count(messages, call.counter, missing))
            rows = sorted(rows, key=lambda row: row["position"])
            records = await messages.get_many([row["id"] for row in rows])  # in that order
            kept = drop_broken(records)
            if len(kept) == len(records):
                break
            # Broken units only show on full records: choose again without them, so
            # they do not take the place of messages that can be sent.
            call.exclude.update({r["id"] for r in records} - {r["id"] for r in kept})
        if call.counts:
            if getattr(call.counter, "save_counts", True):  # a provisional counter's estimates are not kept
                await messages.set_token_counts(call.counts)
            kept = [{**r, "token_count": call.counts.get(r["id"], r["token_count"])} for r in kept]
        if max_tokens is not None:
            kept = _fit(kept, max_tokens - max(0, reserve_tokens))
        return kept


class LastNStrategy(MemoryStrategy):
    """The newest ``n`` messages (default 20), counted in whole units.

    A tool call and its results are kept or dropped together, so the window
    can hold fewer than ``n`` messages; when the newest unit alone has more
    than ``n`` messages (many parallel tool calls) it is still kept whole.
    """

    name = "last_n"

    class Params(_Params):
        """``n``: how many messages at most (whole units)."""

        n: int = Field(20, ge=1)

    @property
    def n(self) -> int:
        """How many messages the window holds at most."""
        return self.params_model.n

    def describe(self) -> str:
        return f"last {self.n} messages"

    def select_rows(self, rows: Sequence[Row], reserve_tokens: int = 0) -> list[str]:
        chosen = choose_tail(units_backward(rows), self.n, complete=True) or []
        return _ids(chosen[::-1])

    async def _choose(self, call: _Call) -> list[Row]:
        tail = _Tail(call, self.n + 8)
        while True:
            await tail.grow()
            chosen = choose_tail(tail.units(), self.n, complete=tail.at_start)
            if chosen is not None:
                return _rows(chosen)


class FirstLastStrategy(MemoryStrategy):
    """The first ``first`` messages (default 2) and the newest ``last`` (default 10).

    The first messages usually hold the task; the newest hold the current
    exchange. Both parts count whole units, never overlap or repeat a message,
    and together are the whole thread when it is short. The newest unit is
    always kept, even when it alone has more than ``last`` messages.
    """

    name = "first_last"

    class Params(_Params):
        """``first`` messages from the start and ``last`` from the end."""

        first: int = Field(2, ge=0)
        last: int = Field(10, ge=1)

    @property
    def first(self) -> int:
        """How many of the thread's first messages are kept."""
        return self.params_model.first

    @property
    def last(self) -> int:
        """How many of the newest messages are kept."""
        return self.params_model.last

    def describe(self) -> str:
        return f"first {self.first} + last {self.last} messages"

    def select_rows(self, rows: Sequence[Row], reserve_tokens: int = 0) -> list[str]:
        head = choose_head(build_units(rows), self.first) or []
        tail = self._tail(units_backward(rows), head, complete=True) or []
        return _ids(head) + _ids(tail[::-1])

    def _tail(self, units: Iterable[Unit], head: list[Unit], complete: bool) -> list[Unit] | None:
        after = head[-1].rows[-1]["position"] if head else None
        return choose_tail(units, self.last, complete=complete, after_position=after)

    async def _choose(self, call: _Call) -> list[Row]:
        tail = _Tail(call, self.first + self.last + 8)
        await tail.grow()
        head = await self._head(call, tail)
        while True:
            chosen = self._tail(tail.units(), head, complete=tail.at_start)
            if chosen is not None:
                return _rows(head) + _rows(list(reversed(chosen)))
            await tail.grow()

    async def _head(self, call: _Call, tail: _Tail) -> list[Unit]:
        """The head units, reading the thread's first rows only as far as needed."""
        if self.first == 0:
            return []
        if tail.at_start:
            return choose_head(call.units(tail.rows), self.first) or []
        stop = tail.rows[0]["position"]
        # Positions count up from 1 in a thread; doubling also copes with gaps.
        before = min(stop, 1 + self.first + 8)
        while True:
            rows = await call.messages.list_light(call.thread_id, before=before)
            if before >= stop:  # read everything up to the tail: the whole thread is known
                return choose_head(call.units([*rows, *tail.rows]), self.first) or []
            head = choose_head(call.units(rows, to_end=False), self.first)
            if head is not None:
                return head
            before = min(stop, before * 2)


class TokenWindowStrategy(MemoryStrategy):
    """The newest messages whose token counts add up to at most ``max_tokens`` (default 100,000).

    ``select(..., reserve_tokens=k)`` leaves ``k`` tokens free for the system
    prompt, the user's facts and the reply. Counts include a few tokens of
    per-message overhead and are cached in the database. When the newest unit
    alone is over the budget it is still kept (alone), so the provider's
    "context too long" error, not a silently empty context, tells the user.
    """

    name = "token_window"

    class Params(_Params):
        """``max_tokens``: the token budget of the window."""

        max_tokens: int = Field(100_000, ge=1)

    @property
    def max_tokens(self) -> int:
        """The window's token budget."""
        return self.params_model.max_tokens

    def describe(self) -> str:
        return f"newest messages within {self.max_tokens:,} tokens"

    def budget(self, reserve_tokens: int = 0) -> int:
        """Tokens left for messages after ``reserve_tokens``."""
        return self.max_tokens - max(0, reserve_tokens)

    def select_rows(self, rows: Sequence[Row], reserve_tokens: int = 0) -> list[str]:
        """Rows need ``token_count``; a missing one is guessed from ``chars``."""
        budget = self.budget(reserve_tokens)
        chosen = choose_tail(units_backward(rows), budget, size=_unit_tokens({}), complete=True) or []
        return _ids(chosen[::-1])

    async def _choose(self, call: _Call) -> list[Row]:
        budget = self.budget(call.reserve_tokens)
        # ~100 tokens a message is typical; start with about one budget's worth.
        tail = _Tail(call, min(1024, budget // 100 + 16))
        while True:
            await tail.grow()
            used = await _fill_counts(call, tail.rows, budget)
            chosen = choose_tail(tail.units(), budget, size=_unit_tokens(call.counts), complete=tail.at_start)
            if chosen is not None:
                return _rows(chosen)
            # Size the next read from the average message so far, so the thread
            # is read about once rather than in ever larger chunks.
            average = max(1.0, used / max(1, len(tail.rows)))
            tail.chunk = min(_MAX_CHUNK, int((budget - used) / average * 1.25) + 32)


STRATEGIES: dict[str, type[MemoryStrategy]] = {
    cls.name: cls for cls in (LastNStrategy, FirstLastStrategy, TokenWindowStrategy)
}


def get_memory_strategy(name: str = DEFAULT_STRATEGY, **params: Any) -> MemoryStrategy:
    """The strategy called ``name`` (last_n, first_last, token_window) with its parameters."""
    cls = STRATEGIES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise InvalidArgumentError(
            f"Unknown memory strategy {name!r}; use one of: {', '.join(STRATEGIES)}."
        )
    return cls(**params)


# --- helpers ----------------------------------------------------------------


def _plain_error(name: str, params: type[_Params], exc: ValidationError) -> str:
    """One plain sentence for the first problem pydantic found."""
    err = exc.errors()[0]
    field = str(err["loc"][0]) if err["loc"] else "?"
    known = ", ".join(params.model_fields) or "nothing"
    if err["type"] == "extra_forbidden":
        return f"Memory strategy {name!r} has no parameter {field!r}; it takes: {known}."
    limit = params.model_fields[field].metadata[0].ge if field in params.model_fields else 0
    return f"Memory strategy {name!r} needs {field} to be a whole number of at least {limit}."


def _fit(records: list[Record], limit: int) -> list[Record]:
    """``records`` without their oldest units until their tokens fit in ``limit`` (the newest unit stays)."""
    units = build_units(records)
    total = sum(_row_tokens(r, {}) for r in records)
    start = 0
    while total > limit and start < len(units) - 1:
        total -= sum(_row_tokens(r, {}) for r in units[start].rows)
        start += 1
    return list(_rows(units[start:])) if start else records


def _ids(units: Sequence[Unit]) -> list[str]:
    return [message_id for unit in units for message_id in unit.ids]


def _rows(units: Sequence[Unit]) -> list[Row]:
    return [row for unit in units for row in unit.rows]


def _row_tokens(row: Row, counts: Mapping[str, int]) -> int:
    n = row["token_count"]
    if n is None:
        n = counts.get(row["id"])
    if n is None:  # only a forced unit can get here; chars/4 is close enough for it
        n = MESSAGE_OVERHEAD + (row.get("chars") or 0) // 4
    return n


def _unit_tokens(counts: Mapping[str, int]):
    return lambda unit: sum(_row_tokens(row, counts) for row in unit.rows)


async def _count(messages: Any, counter: TokenCounter, ids: list[str]) -> dict[str, int]:
    """Token counts for these messages, counted off the event loop."""
    await counter.load()
    records = await messages.get_many(ids)
    return await asyncio.to_thread(lambda: {r["id"]: counter.count_message(r) for r in records})


async def _fill_counts(call: _Call, rows: list[Row], budget: int) -> int:
    """Count the uncounted rows from the newest back until the budget is spent; the tokens seen."""
    counts = call.counts
    total = 0
    i = len(rows) - 1
    while i >= 0 and total <= budget:
        row = rows[i]
        n = row["token_count"] if row["token_count"] is not None else counts.get(row["id"])
        if n is None:
            batch = [r["id"] for r in rows[max(0, i - _COUNT_BATCH + 1): i + 1]
                     if r["token_count"] is None and r["id"] not in counts]
            counts.update(await _count(call.messages, call.counter, batch))
            n = counts.get(row["id"], 0)  # 0: the message vanished meanwhile
        total += n
        i -= 1
    return total
