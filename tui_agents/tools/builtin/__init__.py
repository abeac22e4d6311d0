"""The builtin tools: ``calculate``, ``current_time``, ``search_documents`` and ``remember``."""

from __future__ import annotations

from ..base import Tool
from ..registry import ToolRegistry
from .calculator import calculate
from .clock import current_time
from .documents import search_documents
from .memory import remember

__all__ = ["BUILTIN_TOOLS", "calculate", "current_time", "register_builtins", "remember", "search_documents"]

BUILTIN_TOOLS: tuple[Tool, ...] = (calculate.tool, current_time.tool, search_documents.tool, remember.tool)


def register_builtins(registry: ToolRegistry) -> None:
    """Add the builtins to ``registry`` without replacing a tool already registered under their names."""
    for builtin in BUILTIN_TOOLS:
        registry.register(builtin, replace=False)
