"""The SQLite store: ``connect`` and the stores that read and write through it.

The names are imported on first use, so that a module of the store (say ``store.threads`` for the
sidebar's first page at start-up) can be imported without loading the others (``store.messages``
loads pydantic through ``types``). ``UserMemoryExtractor`` is re-exported lazily from
``tui_agents.memory.extractor`` because the seed API imports it from here (not in ``__all__``, so a
star import works before that module exists).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "connect": "tui_agents.store.db",
    "StoreError": "tui_agents.store.db",
    "new_id": "tui_agents.store.ids",
    "AgentStore": "tui_agents.store.agents",
    "ThreadStore": "tui_agents.store.threads",
    "MessageStore": "tui_agents.store.messages",
    "UserMemoryStore": "tui_agents.store.user_memory",
    "DocumentStore": "tui_agents.store.documents",
    "Auth": "tui_agents.store.auth",
    "DraftStore": "tui_agents.store.drafts",
    "StateStore": "tui_agents.store.state",
    "UserMemoryExtractor": "tui_agents.memory.extractor",
}

__all__ = [
    "connect",
    "new_id",
    "AgentStore",
    "ThreadStore",
    "MessageStore",
    "UserMemoryStore",
    "DocumentStore",
    "Auth",
    "StoreError",
    "DraftStore",
    "StateStore",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    if name != "UserMemoryExtractor":
        globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover
    from tui_agents.store.agents import AgentStore
    from tui_agents.store.auth import Auth
    from tui_agents.store.db import StoreError, connect
    from tui_agents.store.documents import DocumentStore
    from tui_agents.store.drafts import DraftStore
    from tui_agents.store.ids import new_id
    from tui_agents.store.messages import MessageStore
    from tui_agents.store.state import StateStore
    from tui_agents.store.threads import ThreadStore
    from tui_agents.store.user_memory import UserMemoryStore
