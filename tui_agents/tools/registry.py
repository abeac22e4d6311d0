"""The tool registry: the one global of the engine, mapping tool names to tools.

Builtins are registered when ``tui_agents.tools`` is imported, before any user
code can run, and never replace a tool of the same name. A later registration
of a taken name replaces the earlier tool (with a log line), so a user's own
``calculate`` wins over the builtin one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from ..errors import ToolError
from .base import Tool, validate_tool_name

__all__ = [
    "ToolRegistry",
    "default_registry",
    "get_tool",
    "list_tools",
    "register_tool",
    "resolve_tools",
    "unregister_tool",
]

log = logging.getLogger(__name__)


class ToolRegistry:
    """Tools by name. ``default_registry`` is the global one; a test can build its own."""

    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}

    def register(self, tool: Tool, *, replace: bool = True) -> Tool:
        """Add ``tool``; a taken name is replaced unless ``replace`` is false (then the old one stays)."""
        if not isinstance(tool, Tool):
            raise ToolError(f"Only Tool instances can be registered, not {type(tool).__name__}; use @tool on a function.")
        name = validate_tool_name(tool.name)
        existing = self._tools.get(name)
        if existing is not None and existing is not tool:
            if not replace:
                return existing
            log.info("tool %r replaces the tool registered earlier under that name", name)
        self._tools[name] = tool
        return tool

    def unregister(self, name: str) -> None:
        """Remove the tool called ``name``, if there is one."""
        self._tools.pop(name, None)

    def get(self, name: str) -> Tool:
        """The tool called ``name``, or ``ToolError`` listing the known names."""
        found = self._tools.get(name)
        if found is None:
            known = ", ".join(sorted(self._tools)) or "none"
            raise ToolError(f"No tool is named {name!r}; known tools: {known}.")
        return found

    def list(self) -> list[Tool]:
        """Every registered tool, sorted by name."""
        return [self._tools[name] for name in sorted(self._tools)]

    def names(self) -> list[str]:
        """Every registered tool name, sorted."""
        return sorted(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def resolve(self, items: Iterable[Any] | None) -> list[Tool]:
        """Turn names, ``Tool`` objects and ``@tool`` functions into tools, in order, without repeats."""
        resolved: dict[str, Tool] = {}
        for item in items or ():
            found = self._resolve_one(item)
            other = resolved.get(found.name)
            if other is not None and other is not found:
                raise ToolError(f"Two different tools are named {found.name!r}; give one of them another name.")
            resolved[found.name] = found
        return list(resolved.values())

    def _resolve_one(self, item: Any) -> Tool:
        if isinstance(item, str):
            return self.get(item)
        if isinstance(item, Tool):
            return item
        attached = getattr(item, "tool", None)
        if isinstance(attached, Tool):
            return attached
        raise ToolError(
            f"Cannot use {item!r} as a tool; pass a tool name, a Tool object or a function decorated with @tool."
        )


default_registry = ToolRegistry()


def register_tool(tool: Tool, *, replace: bool = True) -> Tool:
    """Register ``tool`` in the global registry (a taken name is replaced) and return it."""
    return default_registry.register(tool, replace=replace)


def unregister_tool(name: str) -> None:
    """Remove a tool from the global registry."""
    default_registry.unregister(name)


def get_tool(name: str) -> Tool:
    """The globally registered tool called ``name``; ``ToolError`` if there is none."""
    return default_registry.get(name)


def list_tools() -> list[Tool]:
    """Every globally registered tool, sorted by name."""
    return default_registry.list()


def resolve_tools(items: Iterable[Any] | None) -> list[Tool]:
    """Names, ``Tool`` objects or ``@tool`` functions as a list of tools (names looked up globally)."""
    return default_registry.resolve(items)
