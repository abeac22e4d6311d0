"""Conversation units: the pieces a memory strategy keeps or drops whole.

A unit is one message, or an assistant message that calls tools together with
the ``tool`` messages that answer it. Providers reject a tool result without
its call and a call without its results, so strategies choose whole units and
a context never starts with a ``tool`` message.

Everything here is pure and synchronous, so it is easy to test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

__all__ = ["Unit", "build_units", "units_backward", "choose_head", "choose_tail", "drop_broken"]

Row = Mapping[str, Any]


class Unit(NamedTuple):
    """Consecutive rows kept or dropped together, head first.

    ``valid`` is False for tool results with no call before them and for a tool
    call with no result at all; such units are never chosen. ``known`` is False
    when the unit may continue outside the rows that were read. (A NamedTuple:
    thousands are made per context, and a frozen dataclass is ~5x slower to build.)
    """

    rows: tuple[Row, ...]
    valid: bool = True
    known: bool = True

    @property
    def first_position(self) -> int:
        """The position of the unit's first message in its thread."""
        return self.rows[0]["position"]

    @property
    def size(self) -> int:
        """How many messages the unit has."""
        return len(self.rows)

    @property
    def ids(self) -> list[str]:
        """The unit's message ids, oldest first."""
        return [row["id"] for row in self.rows]


def _calls_tools(row: Row) -> bool:
    return row["role"] == "assistant" and bool(row.get("has_tool_calls") or row.get("tool_calls"))


def build_units(rows: Sequence[Row], *, from_start: bool = True, to_end: bool = True) -> list[Unit]:
    """Split rows (conversation order) into units, oldest first.

    ``from_start``/``to_end`` say whether ``rows`` begins at the thread's first
    message and ends at its last; otherwise the units at the cut are ``known=False``.
    """
    units = list(units_backward(rows, from_start=from_start))
    units.reverse()
    if units and not to_end:
        units[-1] = units[-1]._replace(known=False)
    return units


def units_backward(rows: Sequence[Row], *, from_start: bool = True) -> Iterator[Unit]:
    """The units of ``rows`` (conversation order, ending at the thread's end), newest first.

    Lazy, so a strategy that stops early never looks at the older rows.
    """
    results: list[Row] = []  # tool rows seen (newest first) whose head is not reached yet
    for i in range(len(rows) - 1, -1, -1):
        row = rows[i]
        role = row["role"]
        if role == "tool":
            results.append(row)
            continue
        calls = role == "assistant" and _calls_tools(row)
        if not results:
            yield Unit((row,), True, True) if not calls else Unit((row,), False, True)  # no result: never sent
            continue
        results.reverse()
        if calls:
            yield Unit((row, *results), True, True)
        else:  # results after a message that called no tool: orphans
            yield Unit(tuple(results), False, True)
            yield Unit((row,), True, True)
        results = []
    if results:
        results.reverse()
        yield Unit(tuple(results), False, from_start)


def _unit_size(unit: Unit) -> int:
    return len(unit.rows)


def choose_tail(
    newest_first: Iterable[Unit],
    limit: int,
    *,
    size: Callable[[Unit], int] = _unit_size,
    complete: bool,
    after_position: int | None = None,
) -> list[Unit] | None:
    """The newest valid units, newest first, while their total ``size`` stays within ``limit``.

    The newest valid unit is always taken, even when it alone is over the
    limit, so a tool call is never sent without its results and the user's
    latest message is never left out. Units at or before ``after_position``
    are never taken. Returns None when the answer depends on older rows than
    the units hold (``complete`` False means the thread goes further back).
    """
    chosen: list[Unit] = []
    used = 0
    for unit in newest_first:
        if after_position is not None and unit.first_position <= after_position:
            return chosen
        if not unit.known:
            return None
        if not unit.valid:
            continue
        used += size(unit)
        if chosen and used > limit:
            return chosen
        chosen.append(unit)
    return chosen if complete else None


def choose_head(units: Sequence[Unit], limit: int) -> list[Unit] | None:
    """The oldest valid units holding at most ``limit`` messages in all, oldest first.

    Returns None when the answer depends on rows after the ones read.
    """
    chosen: list[Unit] = []
    used = 0
    for unit in units:
        if used >= limit:
            break
        if not unit.known:
            return None
        if not unit.valid:
            continue
        if used + unit.size > limit:
            break
        chosen.append(unit)
        used += unit.size
    return chosen


def drop_broken(records: Iterable[Row]) -> list[Row]:
    """Drop what a provider would reject, using the full records (conversation order).

    Removes a tool call whose results are not all there (with the results it
    has), tool results that answer no call just before them, and unfinished
    replies with no text and no tool calls. Interrupted replies with text stay.
    """
    kept: list[Row] = []
    pending: list[Row] = []  # the open tool-call unit: assistant head, then its results
    expected: set[str] = set()
    for record in records:
        role = record["role"]
        if role == "tool":
            if pending and record.get("tool_call_id") in expected:
                pending.append(record)
            continue
        if pending:
            _close_unit(pending, expected, kept)
        calls = record.get("tool_calls")
        if role == "assistant" and calls:
            pending.append(record)
            expected.update(call["id"] if isinstance(call, Mapping) else call.id for call in calls)
        elif record.get("status", "complete") == "complete" or record.get("content"):
            kept.append(record)
        # else: an unfinished reply with no text and no tool calls carries nothing
    if pending:
        _close_unit(pending, expected, kept)
    return kept


def _close_unit(pending: list[Row], expected: set[str], kept: list[Row]) -> None:
    """Keep a tool-call unit only when every call has its result."""
    if {row.get("tool_call_id") for row in pending[1:]} >= expected:
        kept.extend(pending)
    pending.clear()
    expected.clear()
