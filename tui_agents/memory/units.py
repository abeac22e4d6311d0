"""Conversation units: the pieces a memory strategy keeps or drops whole.

A unit is one message, or an assistant message that calls tools together with
the ``tool`` messages that answer it. Providers reject a tool result without
its call and a call without its results, so strategies choose whole units and
a context never starts with a ``tool`` message.

Everything here is pure and synchronous, so it is easy to test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Unit", "build_units", "choose_head", "choose_tail", "drop_broken"]

Row = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Unit:
    """Consecutive rows kept or dropped together, head first.

    ``valid`` is False for tool results with no call before them and for a tool
    call with no result at all; such units are never chosen. ``known`` is False
    when the unit may continue outside the rows that were read.
    """

    rows: tuple[Row, ...]
    valid: bool = True
    known: bool = True

    @property
    def first_position(self) -> int:
        return self.rows[0]["position"]

    @property
    def ids(self) -> list[str]:
        return [row["id"] for row in self.rows]

    def __len__(self) -> int:
        return len(self.rows)


def _calls_tools(row: Row) -> bool:
    return row["role"] == "assistant" and bool(row.get("has_tool_calls") or row.get("tool_calls"))


def build_units(rows: Sequence[Row], *, from_start: bool = True, to_end: bool = True) -> list[Unit]:
    """Split rows (conversation order) into units.

    ``from_start``/``to_end`` say whether ``rows`` begins at the thread's first
    message and ends at its last; otherwise the units at the cut are ``known=False``.
    """
    units: list[Unit] = []
    current: list[Row] = []
    for row in rows:
        if row["role"] == "tool" and current and (current[0]["role"] == "tool" or _calls_tools(current[0])):
            current.append(row)
            continue
        if current:
            units.append(_close(current))
        current = [row]
    if current:
        units.append(_close(current))
    if units and not from_start and units[0].rows[0]["role"] == "tool":
        units[0] = Unit(units[0].rows, valid=False, known=False)
    if units and not to_end:
        last = units[-1]
        units[-1] = Unit(last.rows, valid=last.valid, known=False)
    return units


def _close(rows: list[Row]) -> Unit:
    head = rows[0]
    if head["role"] == "tool":
        return Unit(tuple(rows), valid=False)  # results whose call is not there
    if _calls_tools(head):
        return Unit(tuple(rows), valid=len(rows) > 1)
    return Unit(tuple(rows))


def choose_tail(
    units: Sequence[Unit],
    limit: int,
    *,
    size: Callable[[Unit], int] = len,
    complete: bool,
    after_position: int | None = None,
) -> list[Unit] | None:
    """The newest valid units, newest first, while their total ``size`` stays within ``limit``.

    The newest valid unit is always taken, even when it alone is over the
    limit, so a tool call is never sent without its results and the user's
    latest message is never left out. Units at or before ``after_position``
    are never taken. Returns None when the answer depends on older rows than
    ``units`` holds (``complete`` False means the thread goes further back).
    """
    chosen: list[Unit] = []
    used = 0
    for unit in reversed(units):
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
        if used + len(unit) > limit:
            break
        chosen.append(unit)
        used += len(unit)
    return chosen


def _carries_nothing(record: Row) -> bool:
    """An unfinished reply with no text and no tool calls (e.g. failed before its first token)."""
    return record.get("status", "complete") != "complete" and not record.get("content") and not record.get(
        "tool_calls"
    )


def drop_broken(records: Iterable[Row]) -> list[Row]:
    """Drop what a provider would reject, using the full records (conversation order).

    Removes a tool call whose results are not all there (with the results it
    has), tool results that answer no call just before them, and unfinished
    replies with no text and no tool calls. Interrupted replies with text stay.
    """
    kept: list[Row] = []
    pending: list[Row] = []  # the open tool-call unit: assistant head, then its results
    expected: set[str] = set()

    def close() -> None:
        answered = {row.get("tool_call_id") for row in pending[1:]}
        if pending and answered >= expected:
            kept.extend(pending)
        pending.clear()
        expected.clear()

    for record in records:
        if record["role"] == "tool":
            if pending and record.get("tool_call_id") in expected:
                pending.append(record)
            continue
        close()
        if _carries_nothing(record):
            continue
        calls = record.get("tool_calls") or []
        if record["role"] == "assistant" and calls:
            pending.append(record)
            expected.update(call["id"] if isinstance(call, Mapping) else call.id for call in calls)
        else:
            kept.append(record)
    close()
    return kept
