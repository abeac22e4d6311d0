"""``search_documents``: full-text search over the documents in the store, for RAG assistants.

The model gets each hit's title, id and snippet, never its source: for a file
that is an absolute path on the user's machine, which is not the provider's business.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from ...errors import ToolError
from ..base import ToolContext
from ..decorator import tool

__all__ = ["search_documents", "format_hits"]


def format_hits(query: str, hits: list[Any]) -> str:
    """Numbered results with title, id and snippet, or a plain sentence when there are none."""
    if not hits:
        return (
            f"No documents match {query!r}. Try other keywords; if nothing is found, "
            "say that the documents do not cover it instead of guessing."
        )
    lines = [f"Found {len(hits)} document(s) for {query!r}:"]
    for number, hit in enumerate(hits, start=1):
        lines.append(f"{number}. {hit['title']} (id: {hit['document_id']})")
        snippet = " ".join(str(hit["snippet"] or "").split())
        if snippet:
            lines.append(f"   {snippet}")
    lines.append("Cite the title of each fact you use.")
    return "\n".join(lines)


@tool(
    description=(
        "Search the knowledge base documents by keywords. Use it before answering a factual "
        "question, and cite the title of what you use."
    ),
    register=False,
)
async def search_documents(
    query: Annotated[str, Field(min_length=1, max_length=500, description="Keywords to search for.")],
    context: ToolContext,
    limit: Annotated[int, Field(ge=1, le=20, description="How many documents to return (1-20).")] = 5,
) -> str:
    """Search the stored documents and return titles and snippets."""
    if context.conn is None:
        raise ToolError("search_documents needs a database connection, and this conversation has none.")
    from ...store import DocumentStore  # the store is only needed once the tool runs

    hits = await DocumentStore(context.conn).search(query, limit=limit)
    return format_hits(query, list(hits))
