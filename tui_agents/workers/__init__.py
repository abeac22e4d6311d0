"""Background job handlers: thread titles, thread summaries and user-memory extraction.

``register_default_handlers(queue, provider=..., conn=...)`` puts them on a
``JobQueue`` under their job names. Payloads: ``{"thread_id": ...}`` for
``generate_title`` and ``summarize_thread``; ``{"thread_id": ..., "user_id": ...}``
for ``extract_user_memory``.
"""

from __future__ import annotations

from typing import Any

from . import memory, summaries, titles
from .memory import extract_user_memory
from .summaries import summarize_thread
from .titles import clean_title, fallback_title, generate_title

__all__ = [
    "TITLE_JOB",
    "SUMMARY_JOB",
    "MEMORY_JOB",
    "register_default_handlers",
    "generate_title",
    "summarize_thread",
    "extract_user_memory",
    "clean_title",
    "fallback_title",
]

TITLE_JOB = titles.JOB_NAME
SUMMARY_JOB = summaries.JOB_NAME
MEMORY_JOB = memory.JOB_NAME

_FACTORIES = {TITLE_JOB: titles.make_handler, SUMMARY_JOB: summaries.make_handler, MEMORY_JOB: memory.make_handler}


def register_default_handlers(queue: Any, *, provider: Any, conn: Any) -> list[str]:
    """Register the three handlers on ``queue``, except names the user already registered
    (the user's handler wins). Returns the names registered here."""
    added = []
    for name, factory in _FACTORIES.items():
        if not queue.has_handler(name):
            queue.register(name, factory(provider, conn))
            added.append(name)
    return added
