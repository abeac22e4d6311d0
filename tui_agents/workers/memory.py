"""``extract_user_memory``: durable facts about the user from a thread, saved to user memory."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from . import _common
from ._common import model_options, require

log = logging.getLogger(__name__)

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
    try:
        async with asyncio.timeout(_common.CALL_TIMEOUT):
            saved = await extractor.extract_and_save(user_id, messages)
    except TimeoutError:
        # a stalled server: the next turn's job tries again; retrying now would stall as long again
        log.warning("Memory extraction for thread %s got no answer within %.0f s.", thread_id, _common.CALL_TIMEOUT)
        return {"saved": [], "timed_out": True}
    return {"saved": [record["key"] for record in saved]}


def make_handler(provider: Any, conn: Any) -> Any:
    """The job handler: payload ``{"thread_id": ..., "user_id": ...}``."""

    async def handle(payload: dict[str, Any]) -> dict[str, Any]:
        thread_id = require(payload, "thread_id", JOB_NAME)
        return await extract_user_memory(provider, conn, thread_id, require(payload, "user_id", JOB_NAME))

    return handle
