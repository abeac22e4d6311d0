"""tui_agents: a provider-agnostic agent engine, and the aiagents-tui terminal app on top.

Public names are imported lazily, so ``import tui_agents`` stays cheap and a
script that only needs the stores never loads the provider or Textual code.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "Agent": "tui_agents.agent",
    "AgentDefinition": "tui_agents.definition",
    "AgentTemplates": "tui_agents.definition",
    "AgentRunner": "tui_agents.runner",
    "get_provider": "tui_agents.providers",
    "Provider": "tui_agents.providers",
    "get_memory_strategy": "tui_agents.memory",
    "MemoryStrategy": "tui_agents.memory",
    "tool": "tui_agents.tools",
    "Tool": "tui_agents.tools",
    "register_tool": "tui_agents.tools",
    "get_tool": "tui_agents.tools",
    "list_tools": "tui_agents.tools",
    "ToolDefinition": "tui_agents.types",
    "Message": "tui_agents.types",
    "ToolCall": "tui_agents.types",
    "Usage": "tui_agents.types",
    "RateLimiter": "tui_agents.limits",
    "get_rate_limiter": "tui_agents.limits",
    "RedisBackend": "tui_agents.limits",
    "RedisConfig": "tui_agents.limits",
    "JobQueue": "tui_agents.limits",
    "Job": "tui_agents.limits",
    "RedisQueueBackend": "tui_agents.limits",
    "UserMemoryExtractor": "tui_agents.memory.extractor",
    "connect": "tui_agents.store",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tui_agents' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # pragma: no cover
    from .agent import Agent
    from .definition import AgentDefinition, AgentTemplates
    from .limits import Job, JobQueue, RateLimiter, RedisBackend, RedisConfig, RedisQueueBackend, get_rate_limiter
    from .memory import MemoryStrategy, get_memory_strategy
    from .memory.extractor import UserMemoryExtractor
    from .providers import Provider, get_provider
    from .runner import AgentRunner
    from .store import connect
    from .tools import Tool, get_tool, list_tools, register_tool, tool
    from .types import Message, ToolCall, ToolDefinition, Usage
