"""``extract_user_memory``: durable facts about the user from a thread, saved to user memory."""

from __future__ import annotations

from typing import Any

from ._common import model_options, require

__all__ = ["JOB_NAME", "MAX_MESSAGES", "extract_user_memory", "make_handler"]

JOB_NAME = "extract_user_memory"
MAX_MESSAGES = 40  # the newest turns hold the new facts; the extractor bounds its prompt too


async def extract_user_memory(provider: Any, conn: Any, thread_id: str, user_id: str) -> dict[str, Any]:
    """Run ``UserMemoryExtractor`` over the thread's newest messages; returns the keys it saved."""
    from ..memory.extractor import UserMemoryExtractor
    from ..store import MessageStore, ThreadStore, UserMemoryStore

    thread = await ThreadStore(conn).get(thread_id)  # NotFoundError for a deleted thread: no retry can help
    messages = await MessageStore(conn).list(thread_id, limit=MAX_MESSAGES)
    extractor = UserMemoryExtractor(provider, UserMemoryStore(conn), **model_options(provider, thread))
    saved = await extractor.extract_and_save(user_id, messages)
    return {"saved": [record["key"] for record in saved]}


def make_handler(provider: Any, conn: Any) -> Any:
    """The job handler: payload ``{"thread_id": ..., "user_id": ...}``."""

    async def handle(payload: dict[str, Any]) -> dict[str, Any]:
        thread_id = require(payload, "thread_id", JOB_NAME)
        return await extract_user_memory(provider, conn, thread_id, require(payload, "user_id", JOB_NAME))

    return handle
