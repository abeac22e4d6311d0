"""What the runner does with a verdict: block, warn, flag or nothing."""

from __future__ import annotations

from typing import Literal

from ..errors import InvalidArgumentError
from .judge import Verdict

__all__ = ["Action", "Policy", "POLICIES", "apply_policy"]

Policy = Literal["block", "warn", "flag", "off"]
Action = Literal["blocked", "warned", "flagged"]
POLICIES: tuple[str, ...] = ("block", "warn", "flag", "off")


def apply_policy(verdict: Verdict, policy: str, *, blockable: bool = True) -> Action | None:
    """The action for ``verdict`` under ``policy``; ``None`` when there is nothing to do.

    ``block`` blocks an injection (or flags it when the text cannot be blocked,
    e.g. a tool's output: pass ``blockable=False``); ``warn`` lets it through with
    a warning; ``flag`` only records it; ``off`` ignores every verdict.
    """
    if policy not in POLICIES:
        raise InvalidArgumentError(f"Unknown guardrail policy {policy!r}; use one of {', '.join(POLICIES)}.")
    if policy == "off" or not verdict.injection:
        return None
    if policy == "block":
        return "blocked" if blockable else "flagged"
    if policy == "warn":
        return "warned"
    return "flagged"
