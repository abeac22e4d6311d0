"""DocumentStore: reference documents the ``search_documents`` tool searches with FTS5 (bm25)."""

from __future__ import annotations

import sqlite3

import aiosqlite

from tui_agents.errors import InvalidArgumentError, NotFoundError
from tui_agents.store.db import run, write
from tui_agents.store.ids import new_id
from tui_agents.store.records import DocumentHit, DocumentRecord, fetch_all, fetch_one, now
from tui_agents.store.search import SNIPPET_TOKENS, match_expression, parse_query

__all__ = ["DocumentStore"]


def _record(row: sqlite3.Row) -> DocumentRecord:
    return DocumentRecord(id=row["id"], title=row["title"], text=row["text"], source=row["source"],
                          created_at=row["created_at"])


class DocumentStore:
    """Add, list, delete and search documents."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def add(self, title: str, text: str, source: str | None = None) -> DocumentRecord:
        """Store and index a document."""
        if not isinstance(title, str) or not isinstance(text, str):
            raise InvalidArgumentError("A document needs a text title and text.")
        record = DocumentRecord(id=new_id("doc"), title=title, text=text, source=source, created_at=now())

        def insert(db: sqlite3.Connection) -> None:
            db.execute("INSERT INTO documents(id, title, text, source, created_at) VALUES (?,?,?,?,?)",
                       tuple(record.values()))

        await write(self.conn, insert)
        return record

    async def replace_source(self, title: str, text: str, source: str) -> tuple[DocumentRecord, list[str]]:
        """Store a document in place of those with the same ``source``, in one transaction.

        Returns the new record and the ids it replaced (addition to the contract: re-adding a
        file must never leave it deleted and not yet added).
        """
        if not isinstance(title, str) or not isinstance(text, str) or not source:
            raise InvalidArgumentError("A document needs a text title, text and a source.")
        record = DocumentRecord(id=new_id("doc"), title=title, text=text, source=source, created_at=now())

        def swap(db: sqlite3.Connection) -> list[str]:
            old = [r[0] for r in db.execute("SELECT id FROM documents WHERE source = ? ORDER BY seq", (source,))]
            db.execute("DELETE FROM documents WHERE source = ?", (source,))
            db.execute("INSERT INTO documents(id, title, text, source, created_at) VALUES (?,?,?,?,?)",
                       tuple(record.values()))
            return old

        return record, await write(self.conn, swap)

    async def get(self, id: str) -> DocumentRecord:
        """The document with this id (NotFoundError otherwise)."""
        row = await run(self.conn, fetch_one, "SELECT * FROM documents WHERE id = ?", (id,))
        if row is None:
            raise NotFoundError(f"Document {id} does not exist.")
        return _record(row)

    async def list(self) -> list[DocumentRecord]:
        """Every document, newest first."""
        return [_record(r) for r in await run(self.conn, fetch_all, "SELECT * FROM documents ORDER BY seq DESC")]

    async def delete(self, id: str) -> None:
        """Delete a document and its index entries."""

        def remove(db: sqlite3.Connection) -> None:
            if db.execute("DELETE FROM documents WHERE id = ?", (id,)).rowcount == 0:
                raise NotFoundError(f"Document {id} does not exist.")

        await write(self.conn, remove)

    async def search(self, query: str, limit: int = 5) -> list[DocumentHit]:
        """Best-matching documents (bm25, title weighted 2x) with a ``[[highlighted]]`` snippet; [] for no terms."""
        match = match_expression(parse_query(query))
        if match is None or limit <= 0:
            return []
        rows = await run(self.conn, fetch_all, f"""
            SELECT d.id, d.title, d.source, bm25(documents_fts, 2.0, 1.0) AS score,
                   snippet(documents_fts, 1, '[[', ']]', '…', {SNIPPET_TOKENS}) AS snip
            FROM documents_fts JOIN documents AS d ON d.seq = documents_fts.rowid
            WHERE documents_fts MATCH ? ORDER BY score LIMIT ?""", (match, min(int(limit), 100)))
        return [DocumentHit(document_id=r["id"], title=r["title"], snippet=r["snip"], source=r["source"],
                            score=-r["score"]) for r in rows]
