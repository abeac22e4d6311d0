"""Tools the model can call: the ``@tool`` decorator, the ``Tool`` base class, the registry and builtins.

Importing this package registers the builtins (``calculate``, ``current_time``,
``search_documents``, ``remember``) in the global registry. A user's tool of
the same name registered later replaces the builtin.
"""

from __future__ import annotations

from ..types import ToolDefinition
from .base import Tool, ToolContext, ToolResult, ToolStatus
from .decorator import FunctionTool, tool
from .registry import (
    ToolRegistry,
    default_registry,
    get_tool,
    list_tools,
    register_tool,
    resolve_tools,
    unregister_tool,
)
from .builtin import BUILTIN_TOOLS, register_builtins

__all__ = [
    "BUILTIN_TOOLS",
    "FunctionTool",
    "Tool",
    "ToolContext",
    "ToolDefinition",
    "ToolRegistry",
    "ToolResult",
    "ToolStatus",
    "default_registry",
    "get_tool",
    "list_tools",
    "register_builtins",
    "register_tool",
    "resolve_tools",
    "tool",
    "unregister_tool",
]

register_builtins(default_registry)
