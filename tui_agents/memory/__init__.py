"""Context memory: which messages go to the model, how many tokens they cost, and user facts.

- ``get_memory_strategy(name, **params)``: ``last_n``, ``first_last``, ``token_window``.
- ``TokenCounter``: tiktoken counts that work offline, or an estimate.
- ``UserMemoryExtractor`` (``tui_agents.memory.extractor``): facts about the user from a conversation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .strategies import (
    DEFAULT_STRATEGY,
    STRATEGIES,
    FirstLastStrategy,
    LastNStrategy,
    MemoryStrategy,
    TokenWindowStrategy,
    get_memory_strategy,
)
from .tokens import DEFAULT_ENCODING, TokenCounter, estimate_tokens

__all__ = [
    "DEFAULT_ENCODING",
    "DEFAULT_STRATEGY",
    "STRATEGIES",
    "FirstLastStrategy",
    "LastNStrategy",
    "MemoryStrategy",
    "TokenCounter",
    "TokenWindowStrategy",
    "UserMemoryExtractor",
    "estimate_tokens",
    "get_memory_strategy",
]


def __getattr__(name: str) -> Any:
    # The extractor is loaded on demand: most callers only need the strategies.
    if name == "UserMemoryExtractor":
        from .extractor import UserMemoryExtractor

        return UserMemoryExtractor
    raise AttributeError(f"module 'tui_agents.memory' has no attribute {name!r}")


if TYPE_CHECKING:  # pragma: no cover
    from .extractor import UserMemoryExtractor
