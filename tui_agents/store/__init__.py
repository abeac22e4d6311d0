"""The SQLite store: ``connect`` and the stores that read and write through it.

``UserMemoryExtractor`` is re-exported lazily from ``tui_agents.memory.extractor``
because the seed API imports it from here (not in ``__all__``, so a star
import works before that module exists).
"""

from __future__ import annotations

from typing import Any

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
    if name == "UserMemoryExtractor":
        from tui_agents.memory.extractor import UserMemoryExtractor

        return UserMemoryExtractor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
