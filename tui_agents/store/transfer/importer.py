"""Import our JSON or a ChatGPT export: validate everything first, then write it in one transaction."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import math
import sqlite3
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tui_agents.errors import InvalidArgumentError, NotFoundError
from tui_agents.images import detect_media_type
from tui_agents.store import alternatives
from tui_agents.store.db import run, write
from tui_agents.store.ids import new_id
from tui_agents.store.images import put_images
from tui_agents.store.messages import insert_content
from tui_agents.store.records import dumps, now
from tui_agents.store.transfer.chatgpt import _parse_chatgpt
from tui_agents.store.transfer.format import (
    EXPORT_FORMAT,
    MAX_IMPORT_BYTES,
    MAX_IMPORT_DEPTH,
    ExportedMessage,
    ExportedThread,
    ImportReport,
    _error_text,
)
from tui_agents.types import Image


def _bad(where: str, field: str, cause: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"{where} is not a valid export: {field}: {cause}.")


def _decode_images(doc: ExportedThread, where: str) -> dict[str, Image]:
    """The file's images by sha256, each checked: base64 that decodes, a matching sha256, bytes of its type."""
    out: dict[str, Image] = {}
    for i, image in enumerate(doc.images):
        try:
            data = base64.b64decode(image.data, validate=True)
        except (binascii.Error, ValueError):
            raise _bad(where, f"images.{i}.data", "is not valid base64") from None
        if hashlib.sha256(data).hexdigest() != image.sha256:
            raise _bad(where, f"images.{i}.sha256", "does not match the sha256 of the image's bytes")
        found = detect_media_type(data)
        if found != image.media_type:
            raise _bad(where, f"images.{i}.media_type", f"is {image.media_type} but the bytes are "
                                                        f"{found or 'not a PNG, JPEG, GIF or WebP image'}")
        if image.sha256 in out:
            raise _bad(where, f"images.{i}.sha256", "lists the same image twice")
        out[image.sha256] = Image(media_type=image.media_type, data=data, sha256=image.sha256)
    return out


def _check_image_refs(doc: ExportedThread, images: Mapping[str, Image], where: str) -> None:
    """Every image a message shows is in the file, with the same type and size."""
    for j, message in enumerate(doc.messages):
        for k, ref in enumerate(message.images):
            field = f"messages.{j}.images.{k}"
            image = images.get(ref.sha256)
            if image is None:
                raise _bad(where, f"{field}.sha256", "names an image that is not in the file's images")
            if ref.media_type != image.media_type:
                raise _bad(where, f"{field}.media_type", f"is {ref.media_type}, but the image is {image.media_type}")
            if ref.bytes != len(image.data):
                raise _bad(where, f"{field}.bytes", f"is {ref.bytes}, but the image has {len(image.data)} bytes")


def _broken(text: str | None) -> bool:
    """True when ``text`` holds half a surrogate pair, which SQLite cannot store (nor the API take back)."""
    try:
        (text or "").encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _check_text(doc: ExportedThread, where: str) -> None:
    """A message's text, thinking and thinking blocks are stored as given, so each must be whole characters."""
    for j, message in enumerate(doc.messages):
        fields = [("content", message.content), ("thinking", message.thinking)]
        fields += [(f"thinking_blocks.{k}.{key}", value) for k, block in enumerate(message.thinking_blocks)
                   for key, value in block.items() if isinstance(value, str)]
        for name, value in fields:
            if _broken(value):
                raise _bad(where, f"messages.{j}.{name}", "holds a broken character (half a surrogate pair)")


def _check_alternatives(doc: ExportedThread, where: str) -> None:
    """Each reply slot starts at its own position, numbers its alternatives from 0 and has one chosen."""
    slots: dict[int, list[tuple[int, ExportedMessage]]] = {}
    for j, message in enumerate(doc.messages):
        alt = message.alternative
        if alt is None:
            continue
        field = f"messages.{j}.alternative"
        if message.role == "user":
            raise _bad(where, field, "a user message cannot be an alternative reply")
        if alt.slot > message.position:
            raise _bad(where, f"{field}.slot", f"is {alt.slot}, after the message's own position {message.position}")
        slots.setdefault(alt.slot, []).append((j, message))
    for slot, members in slots.items():
        j = members[0][0]
        if min(m.position for _, m in members) != slot:
            raise _bad(where, f"messages.{j}.alternative.slot", f"no alternative starts at position {slot}")
        indexes = {m.alternative.index for _, m in members}  # type: ignore[union-attr]
        if indexes != set(range(len(indexes))) or len(indexes) < 2:
            raise _bad(where, f"messages.{j}.alternative.index",
                       f"the alternatives of slot {slot} must be numbered 0, 1, ... (at least two)")
        chosen = {m.alternative.index for _, m in members if m.alternative.chosen}  # type: ignore[union-attr]
        mixed = {m.alternative.index for _, m in members if not m.alternative.chosen} & chosen  # type: ignore[union-attr]
        if len(chosen) != 1 or mixed:
            raise _bad(where, f"messages.{j}.alternative.chosen",
                       f"slot {slot} must have exactly one chosen alternative, all of its messages chosen")


def _first_error(exc: ValidationError, where: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"{where} is not a valid export: {_error_text(exc)}.")


def _path_text(path: tuple[Any, ...]) -> str:
    shown = ".".join(str(p) for p in path[:8])
    return (shown + ".…" if len(path) > 8 else shown) or "(top)"


def check_tree(data: Any, where: str = "The file", limit: int = MAX_IMPORT_DEPTH) -> None:
    """Refuse JSON nested deeper than ``limit`` or holding a non-finite number, naming the field.

    Iterative, so a hostile depth cannot exhaust the stack here.
    """
    stack: list[tuple[Any, tuple[Any, ...]]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidArgumentError(f"{where} is not a valid export: {_path_text(path)}: "
                                       f"{value} is not a finite number.")
        if isinstance(value, Mapping):
            items: Any = value.items()
        elif isinstance(value, list):
            items = enumerate(value)
        else:
            continue
        if len(path) >= limit:
            raise InvalidArgumentError(f"{where} is nested more than {limit} levels deep "
                                       f"(at {_path_text(path)}); not imported.")
        stack.extend((child, (*path, key)) for key, child in items)


def parse_import(data: Any, where: str = "The file") -> tuple[str, list[dict[str, Any]]]:
    """Recognise and validate an import: returns (kind, bundles) or raises InvalidArgumentError."""
    check_tree(data, where)
    if isinstance(data, Mapping) and data.get("format") == EXPORT_FORMAT:
        try:
            doc = ExportedThread.model_validate(data)
        except ValidationError as exc:
            raise _first_error(exc, where) from exc
        positions = [m.position for m in doc.messages]
        if len(set(positions)) != len(positions):
            raise InvalidArgumentError(f"{where} has two messages at the same position.")
        ids = [m.id for m in doc.messages]
        if len(set(ids)) != len(ids):
            raise InvalidArgumentError(f"{where} has two messages with the same id.")
        images = _decode_images(doc, where)
        _check_image_refs(doc, images, where)
        _check_alternatives(doc, where)
        _check_text(doc, where)
        bundle = doc.model_dump(mode="json", exclude={"images"})
        bundle["image_data"] = images
        return "aiagents", [bundle]
    if isinstance(data, Mapping) and "mapping" in data:
        data = [data]  # a single ChatGPT conversation
    if isinstance(data, list):
        return "chatgpt", _parse_chatgpt(data)
    raise InvalidArgumentError(
        f"{where} is neither an aiagents-tui thread export nor a ChatGPT conversations.json.")


# --------------------------------------------------------------------------- writing


def _exists(db: sqlite3.Connection, table: str, ids: list[str]) -> bool:
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        row = db.execute(f"SELECT 1 FROM {table} WHERE id IN ({','.join('?' * len(chunk))}) LIMIT 1",
                         chunk).fetchone()
        if row is not None:
            return True
    return False


def _resolve_agent(db: sqlite3.Connection, agent: Mapping[str, Any] | None, default_agent_id: str | None) -> str | None:
    """The agent id to attach: same id, else same name, else a new agent from the export."""
    if agent is None:
        return default_agent_id
    if db.execute("SELECT 1 FROM agents WHERE id = ?", (agent["id"],)).fetchone():
        return agent["id"]
    row = db.execute("SELECT id FROM agents WHERE name = ?", (agent["name"],)).fetchone()
    if row is not None:
        return row[0]
    db.execute(
        "INSERT INTO agents(id, name, system_prompt, definition, provider, model, tools, memory_strategy, "
        "memory_params, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (agent["id"], agent["name"], agent.get("system_prompt") or "", dumps(agent.get("definition")),
         agent.get("provider"), agent.get("model"), dumps(agent.get("tools") or []), agent.get("memory_strategy"),
         dumps(agent.get("memory_params") or {}), agent["created_at"], agent["updated_at"]))
    return agent["id"]


def _insert_thread(db: sqlite3.Connection, thread: Mapping[str, Any], thread_id: str, agent_id: str | None,
                   user_id: str | None) -> None:
    forked_from = thread.get("forked_from")
    if forked_from and not db.execute("SELECT 1 FROM threads WHERE id = ?", (forked_from,)).fetchone():
        forked_from = None
    db.execute(
        "INSERT INTO threads(id, agent_id, user_id, title, title_source, summary, provider, model, created_at, "
        "updated_at, archived_at, trashed_at, forked_from, forked_from_message, fork_kind) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (thread_id, agent_id, user_id, thread.get("title"), thread.get("title_source"), thread.get("summary"),
         thread.get("provider"), thread.get("model"), thread["created_at"], thread["updated_at"],
         thread.get("archived_at"), thread.get("trashed_at"), forked_from,
         thread.get("forked_from_message") if forked_from else None,
         thread.get("fork_kind") if forked_from else None))
    if user_id:  # the importing user owns the thread, as if they had created it
        db.execute(
            "INSERT OR IGNORE INTO grants(user_id, resource_type, resource_id, role, created_at) "
            "VALUES (?, 'thread', ?, 'owner', ?)", (user_id, thread_id, now()))


def _insert_message(db: sqlite3.Connection, thread_id: str, message_id: str, m: Mapping[str, Any]) -> None:
    # Empty thinking blocks and images are NULL, as ``MessageStore.add`` writes them.
    content_id = insert_content(db, m["content"], m.get("token_count"), thread_id, m["position"],
                                thinking=m.get("thinking"), thinking_blocks=dumps(m.get("thinking_blocks") or None),
                                images=dumps(m.get("images") or None))
    calls = m.get("tool_calls") or None
    alt = m.get("alternative") or {}
    state = alternatives.CHOSEN if alt.get("chosen", True) else alternatives.OTHER
    db.execute(
        "INSERT INTO messages(id, thread_id, position, role, content_id, tool_calls, tool_call_id, status, model, "
        "usage, guardrail, meta, created_at, updated_at, alt_slot, alt_index, alt_state) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (message_id, thread_id, m["position"], m["role"], content_id, dumps(calls), m.get("tool_call_id"),
         m.get("status") or "complete", m.get("model"), dumps(m.get("usage")), dumps(m.get("guardrail")),
         dumps(m.get("meta")), m["created_at"], m["updated_at"], alt.get("slot"), alt.get("index"), state))


def _write_bundles(db: sqlite3.Connection, bundles: list[dict[str, Any]], user_id: str | None,
                   default_agent_id: str | None, report: ImportReport) -> None:
    for bundle in bundles:
        thread, messages = bundle["thread"], bundle["messages"]
        old_ids = [m["id"] for m in messages if m.get("id")]
        keep = bool(thread.get("id")) and len(old_ids) == len(messages) \
            and not _exists(db, "threads", [thread["id"]]) and not _exists(db, "messages", old_ids)
        if thread.get("id") and not keep:
            report.kept_ids = False
            report.notes.append(f"Thread {thread['id']} already exists here: imported with new ids.")
        thread_id = thread["id"] if keep else new_id("thr")
        agent_id = _resolve_agent(db, bundle.get("agent"), default_agent_id)
        _insert_thread(db, thread, thread_id, agent_id, user_id or thread.get("user_id"))
        shown = {ref["sha256"] for m in messages for ref in m.get("images") or []}
        # same sha256, same bytes: an image already stored (another thread's) is shared, not stored twice
        put_images(db, [image for sha, image in (bundle.get("image_data") or {}).items() if sha in shown])
        for m in messages:
            _insert_message(db, thread_id, m["id"] if keep else new_id("msg"), m)
        report.thread_ids.append(thread_id)


async def import_data(conn: Any, data: Any, *, user_id: str | None = None, default_agent_id: str | None = None,
                      where: str = "The file") -> ImportReport:
    """Import parsed JSON ``data`` (our export or ChatGPT's) in one transaction; returns the new thread ids."""
    kind, bundles = parse_import(data, where)
    report = ImportReport()
    if kind == "chatgpt":
        report.kept_ids = False
        empty = [b for b in bundles if not b["messages"]]
        if empty:
            report.notes.append(f"Skipped {len(empty)} conversation(s) with no visible messages.")
        bundles = [b for b in bundles if b["messages"]]
        if not bundles:
            report.notes.append("The file holds no conversations to import.")
    if default_agent_id is not None:
        await run(conn, _require_agent, default_agent_id)
    await write(conn, _write_bundles, bundles, user_id, default_agent_id, report)
    return report


def _require_agent(db: sqlite3.Connection, agent_id: str) -> None:
    if db.execute("SELECT 1 FROM agents WHERE id = ?", (agent_id,)).fetchone() is None:
        raise NotFoundError(f"Agent {agent_id} does not exist.")


def _read_json(path: Path) -> Any:
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # reading a FIFO or a device could block or never end
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise InvalidArgumentError(f"{path} is {kind}; give the JSON file to import.")
        if info.st_size > MAX_IMPORT_BYTES:
            raise InvalidArgumentError(f"{path} is larger than {MAX_IMPORT_BYTES // 2**20} MiB; not imported.")
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidArgumentError(f"Could not read {path}: {exc.strerror or exc}.") from exc
    try:
        return loads_json(raw.decode("utf-8-sig"), str(path))
    except UnicodeDecodeError as exc:
        raise InvalidArgumentError(f"{path} is not UTF-8 text, so not a JSON export.") from exc


def loads_json(text: str, where: str = "The file") -> Any:
    """Parse strict JSON (no NaN/Infinity); too deep a document is a plain error, not a RecursionError."""

    def refuse(constant: str) -> Any:
        raise InvalidArgumentError(f"{where} is not valid JSON: {constant} is not a JSON number.")

    try:
        return json.loads(text, parse_constant=refuse)
    except json.JSONDecodeError as exc:
        raise InvalidArgumentError(f"{where} is not valid JSON: {exc.msg} at line {exc.lineno}.") from exc
    except RecursionError:
        raise InvalidArgumentError(f"{where} is nested too deeply to read; not imported.") from None


async def import_file(conn: Any, path: str | Path, *, user_id: str | None = None,
                      default_agent_id: str | None = None) -> ImportReport:
    """Import a JSON file (our thread export or a ChatGPT ``conversations.json``) in one transaction."""
    path = Path(path).expanduser()
    data = await asyncio.to_thread(_read_json, path)
    return await import_data(conn, data, user_id=user_id, default_agent_id=default_agent_id, where=str(path))
