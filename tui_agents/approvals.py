"""Which tool calls need the user's approval, and "allow always" kept in the config.

    approvals = ToolApprovals.from_config(config, ask=prompt_user)   # ask(name, server, arguments)
    runner = AgentRunner(..., approve=approvals)

The safe builtins (``calculate``, ``current_time``, ``search_documents``,
``remember``: they act only on the app's own data) always run. Any other tool
runs when ``[tools] always_allow`` lists it (``"server:tool"``, ``"server:*"``
for all of a server's tools, or a local tool's name), or when ``ask`` says so.
Without ``ask`` (a non-interactive run) such a call is declined.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, Literal

__all__ = ["ToolApprovals", "Answer", "approval_key", "is_safe_builtin"]

#: What ``ask`` returns: run this once, run it from now on, or decline (``True``/``False`` also work).
Answer = Literal["once", "always", "deny"] | bool
AskFn = Callable[[str, "str | None", dict[str, Any]], "Answer | Awaitable[Answer]"]


def approval_key(name: str, server: str | None) -> str:
    """How ``always_allow`` names a tool: ``"server:tool"`` for an MCP tool, the name for a local one."""
    return f"{server}:{name}" if server else name


def is_safe_builtin(name: str, server: str | None) -> bool:
    """Whether ``name`` is one of the builtins (and not a user's tool registered under its name)."""
    if server is not None:
        return False
    from .tools import BUILTIN_TOOLS, default_registry

    builtin = next((tool for tool in BUILTIN_TOOLS if tool.name == name), None)
    return builtin is not None and (name not in default_registry or default_registry.get(name) is builtin)


class ToolApprovals:
    """An ``approve=`` callable: safe builtins and allowed tools run, others are asked about (or declined)."""

    def __init__(
        self,
        always_allow: Iterable[str] = (),
        *,
        ask: AskFn | None = None,
        save: Callable[[list[str]], Any] | None = None,
    ) -> None:
        self.always_allow: list[str] = list(dict.fromkeys(always_allow))
        self.ask = ask
        self._save = save

    @classmethod
    def from_config(cls, config: Any, *, ask: AskFn | None = None, path: Path | None = None) -> "ToolApprovals":
        """Approvals from ``[tools] always_allow``; "allow always" answers are saved back to the config file."""

        def save(allowed: list[str]) -> None:
            from .config import load_config, save_config

            current = load_config(path)  # re-read: the app may have changed other settings meanwhile
            current.tools.always_allow = allowed
            save_config(current, path)
            config.tools.always_allow = list(allowed)

        return cls(config.tools.always_allow, ask=ask, save=save)

    def is_allowed(self, name: str, server: str | None) -> bool:
        """Whether the call runs without asking."""
        if is_safe_builtin(name, server):
            return True
        allowed = set(self.always_allow)
        return approval_key(name, server) in allowed or (server is not None and f"{server}:*" in allowed)

    async def allow_always(self, name: str, server: str | None) -> None:
        """Let this tool run without asking from now on, and save that."""
        key = approval_key(name, server)
        if key in self.always_allow:
            return
        self.always_allow.append(key)
        if self._save is not None:
            await asyncio.to_thread(self._save, list(self.always_allow))

    async def __call__(self, name: str, server: str | None, arguments: dict[str, Any]) -> bool:
        """Decide on one call: True runs it."""
        if self.is_allowed(name, server):
            return True
        if self.ask is None:
            return False
        answer = self.ask(name, server, arguments)
        if inspect.isawaitable(answer):
            answer = await answer
        if answer == "always":
            await self.allow_always(name, server)
            return True
        return answer is True or answer == "once"
