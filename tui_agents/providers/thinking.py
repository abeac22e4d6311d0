"""Turning thinking on per wire, and splitting ``<think>…</think>`` out of a reply's text.

``thinking`` is given as None/False (off), True, ``{"budget_tokens": N}`` or a
level "low" | "medium" | "high"; ``normalize_thinking`` checks it once and each
adapter renders it the way its API defines it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import InvalidArgumentError

__all__ = ["Thinking", "normalize_thinking", "ThinkTagSplitter", "LEVELS", "LEVEL_BUDGETS"]

LEVELS = ("low", "medium", "high")
LEVEL_BUDGETS = {"low": 2_048, "medium": 8_192, "high": 24_576}
"""Anthropic takes a token budget, not a level: what each level means there."""
MIN_BUDGET = 1_024  # Anthropic rejects a smaller budget


@dataclass(frozen=True, slots=True)
class Thinking:
    """Thinking as asked for: ``enabled``, and a ``level`` or a ``budget`` when one was given."""

    enabled: bool
    level: str | None = None
    budget: int | None = None

    def budget_tokens(self) -> int:
        """A token budget (Anthropic): the one given, else the level's, else the medium one."""
        if self.budget is not None:
            return self.budget
        return LEVEL_BUDGETS[self.level or "medium"]


def normalize_thinking(value: Any) -> Thinking | None:
    """``value`` checked and made a ``Thinking``; None means "not asked" (each wire's default)."""
    if value is None:
        return None
    if isinstance(value, Thinking):
        return value
    if value is True or value is False:
        return Thinking(enabled=value)
    if isinstance(value, str) and value.lower() in LEVELS:
        return Thinking(enabled=True, level=value.lower())
    if isinstance(value, dict) and set(value) <= {"budget_tokens", "type"}:
        budget = value.get("budget_tokens")
        if isinstance(budget, int) and not isinstance(budget, bool) and budget >= MIN_BUDGET:
            return Thinking(enabled=value.get("type", "enabled") != "disabled", budget=budget)
    raise InvalidArgumentError(
        f"thinking must be True, False, \"low\", \"medium\", \"high\" or {{\"budget_tokens\": N}} with N of "
        f"at least {MIN_BUDGET}; got {value!r}."
    )


_OPEN = "<think>"
_CLOSE = "</think>"


class ThinkTagSplitter:
    """Splits a reply that starts with ``<think>…</think>`` into thinking and text, across chunk boundaries.

    Text models served without a reasoning parser put their thinking there.
    Once the start of the reply shows no tag, every later fragment passes
    straight through, so the common case costs one attribute test per chunk.
    """

    __slots__ = ("_state", "_held")

    def __init__(self) -> None:
        self._state = 0  # 0: undecided, 1: inside <think>, 2: plain text from here on
        self._held = ""

    def feed(self, fragment: str) -> tuple[str, str]:
        """``(thinking, text)`` of this fragment; either may be empty."""
        if self._state == 2:
            return "", fragment
        data = self._held + fragment
        self._held = ""
        if self._state == 0:
            stripped = data.lstrip()
            if not stripped:
                self._held = data
                return "", ""
            if stripped.startswith(_OPEN):
                self._state = 1
                data = stripped[len(_OPEN):].lstrip("\n")
            elif _OPEN.startswith(stripped):
                self._held = data  # "<thi": wait for more
                return "", ""
            else:
                self._state = 2
                return "", data
        end = data.find(_CLOSE)
        if end >= 0:
            self._state = 2
            return data[:end], data[end + len(_CLOSE):].lstrip("\n")
        keep = _partial_suffix(data, _CLOSE)
        if keep:
            self._held = data[-keep:]
            data = data[:-keep]
        return data, ""

    def finish(self) -> tuple[str, str]:
        """What is still held at the end of the reply (an unclosed tag's start is text)."""
        held, self._held = self._held, ""
        if self._state == 1:
            return held, ""
        return "", held


def _partial_suffix(data: str, tag: str) -> int:
    """The length of the longest end of ``data`` that begins ``tag``."""
    for n in range(min(len(tag) - 1, len(data)), 0, -1):
        if data.endswith(tag[:n]):
            return n
    return 0
