"""``remember``: the model saves a fact about the user, kept across threads.

The fact is saved with source ``"tool"``; when the user requires approval of
facts a model writes, it waits for that approval before it enters any prompt.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ...errors import ToolError
from ..base import ToolContext
from ..decorator import tool

__all__ = ["remember"]


@tool(
    description=(
        "Save a lasting fact about the user (name, preferences, time zone, projects...) so it is "
        "known in later conversations. Use a short key; saving a key again replaces its value."
    ),
    register=False,
)
async def remember(
    key: Annotated[str, Field(min_length=1, max_length=100, description="Short name of the fact, e.g. 'timezone'.")],
    value: Annotated[str, Field(min_length=1, max_length=2000, description="The fact itself, e.g. 'Europe/London'.")],
    context: ToolContext,
    category: Annotated[
        str, Field(min_length=1, max_length=50, description="Group of the fact, e.g. 'preferences'.")
    ] = "general",
) -> str:
    """Save a user fact through the user-memory store."""
    if context.conn is None or not context.user_id:
        raise ToolError("remember needs a database connection and a known user, and this conversation has neither.")
    from ...store import UserMemoryStore  # the store is only needed once the tool runs

    key, value, category = key.strip(), value.strip(), category.strip() or "general"
    store = UserMemoryStore(context.conn)
    pending = await store.requires_approval(context.user_id)
    await store.set(context.user_id, key, value, category, source="tool")
    if pending:
        return (f"Saved {key} = {value!r} (category: {category}) for the user to approve; "
                "it is not remembered until they do.")
    return f"Remembered {key} = {value!r} (category: {category})."
