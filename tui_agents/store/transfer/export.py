"""Export a thread as our JSON (the ``format`` models) or Markdown, to text or to a file."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from tui_agents.errors import InvalidArgumentError, NotFoundError, StoreError
from tui_agents.store import alternatives
from tui_agents.store.db import run
from tui_agents.store.messages import SELECT_MESSAGE, message_record, require_thread
from tui_agents.store.records import fetch_all, now
from tui_agents.store.transfer.format import (
    EXPORT_FORMAT,
    EXPORT_VERSION,
    ExportedMessage,
    ExportedThread,
    ExportedThreadInfo,
    _error_text,
)
from tui_agents.store.transfer.markdown import to_markdown, write_markdown

# --------------------------------------------------------------------------- export


def _thread_info(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: record.get(k) for k in ExportedThreadInfo.model_fields}


def _lineage_entry(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: record.get(k) for k in ("id", "title", "fork_kind", "forked_from", "forked_from_message")}


def _alternative_tags(db: sqlite3.Connection, thread_id: str) -> dict[str, dict[str, Any]]:
    """Each alternative row's slot, index and whether it is chosen, by message id.

    A reply being regenerated right now counts as chosen (as a fork copies it), and a slot
    left with one alternative is a plain reply, as ``alternatives.end`` would leave them.
    """
    rows = db.execute("SELECT id, alt_slot, alt_index, alt_state FROM messages "
                      "WHERE thread_id = ? AND alt_slot IS NOT NULL", (thread_id,)).fetchall()
    top: dict[int, int] = {}
    for _, slot, index, _ in rows:
        top[slot] = max(top.get(slot, 0), index)
    return {mid: {"slot": slot, "index": index, "chosen": state != alternatives.OTHER}
            for mid, slot, index, state in rows if top[slot] > 0}


def _export_rows(db: sqlite3.Connection, thread_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every message of the thread (all alternatives) in position order, and the images they show, once each."""
    require_thread(db, thread_id)
    tags = _alternative_tags(db, thread_id)
    rows = fetch_all(db, SELECT_MESSAGE + " WHERE m.thread_id = ? ORDER BY m.position", (thread_id,))
    messages = []
    for row in rows:
        record = dict(message_record(row))
        record["alternative"] = tags.get(record["id"])
        messages.append(record)
    wanted = list(dict.fromkeys(ref["sha256"] for m in messages for ref in m["images"]))
    images = []
    for sha in wanted:
        found = db.execute("SELECT media_type, data FROM images WHERE sha256 = ?", (sha,)).fetchone()
        if found is None:
            raise StoreError(f"Thread {thread_id} refers to image {sha[:12]}, which is not stored; "
                             "it cannot be exported.")
        images.append({"sha256": sha, "media_type": found[0], "data": base64.b64encode(found[1]).decode("ascii")})
    return messages, images


async def export_thread(conn: Any, thread_id: str) -> dict[str, Any]:
    """Our JSON document of a thread (a dict ready for ``to_json``); NotFoundError for an unknown id."""
    from tui_agents.store import AgentStore, ThreadStore

    threads = ThreadStore(conn)
    thread = await threads.get(thread_id)
    agent = None
    if thread.get("agent_id"):
        try:
            agent = dict(await AgentStore(conn).get(thread["agent_id"]))
        except NotFoundError:
            agent = None
    lineage = await threads.lineage(thread_id)
    messages, images = await run(conn, _export_rows, thread_id)
    doc = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": now(),
        "thread": _thread_info(thread),
        "agent": agent,
        "lineage": {
            "ancestors": [_lineage_entry(r) for r in lineage.get("ancestors", [])],
            "children": [_lineage_entry(r) for r in lineage.get("children", [])],
        },
        "messages": [{k: m.get(k) for k in ExportedMessage.model_fields} for m in messages],
        "images": images,
    }
    # Validate our own output so an export always imports.
    try:
        return ExportedThread.model_validate(doc).model_dump(mode="json")
    except (ValidationError, ValueError) as exc:
        detail = _error_text(exc) if isinstance(exc, ValidationError) else str(exc)
        raise StoreError(f"Thread {thread_id} holds a value that cannot be exported ({detail}).") from exc


def to_json(doc: Mapping[str, Any]) -> str:
    """Pretty JSON of an exported thread (strict JSON: no NaN or Infinity)."""
    try:
        return json.dumps(doc, ensure_ascii=False, indent=2, allow_nan=False) + "\n"
    except ValueError as exc:
        raise StoreError(f"The thread holds a number JSON cannot represent ({exc}).") from exc


async def export_thread_text(conn: Any, thread_id: str, fmt: Literal["md", "json"] = "json") -> str:
    """The thread exported as ``md`` or ``json`` text (Markdown lists images by name and size)."""
    _check_format(fmt)
    doc = await export_thread(conn, thread_id)
    return to_markdown(doc) if fmt == "md" else to_json(doc)


def _check_format(fmt: str) -> None:
    if fmt not in ("md", "json"):
        raise InvalidArgumentError(f"Unknown export format {fmt!r}; use md or json.")


async def export_thread_file(conn: Any, thread_id: str, path: str | os.PathLike[str],
                             fmt: Literal["md", "json"] = "json") -> Path:
    """Write the thread to ``path`` (following symlinks); Markdown's images go to ``<stem>_files/`` beside it.

    Returns the file written. A target that is not a regular file is refused with ``InvalidArgumentError``;
    a write that fails raises ``OSError``.
    """
    from tui_agents.files import write_text_through

    _check_format(fmt)
    doc = await export_thread(conn, thread_id)
    if fmt == "json":
        return await asyncio.to_thread(write_text_through, path, to_json(doc))
    return await asyncio.to_thread(write_markdown, doc, path)
