"""Export a thread to Markdown or JSON, and import our JSON or a ChatGPT ``conversations.json``.

Our JSON (``"format": "aiagents-tui/thread"``, ``"version": 2``) holds the
thread, its agent, lineage and every message with tool calls, statuses,
guardrail verdicts, usage, model, token counts, meta and timestamps; since
version 2 also every alternative of a regenerated reply (``alternative``:
slot, index, chosen), thinking, Anthropic's signed thinking blocks (kept
byte for byte) and images: each image once in ``images`` (base64, keyed by
sha256), referenced from the messages that show it. Version 1 files still
import.

Markdown shows the chosen alternative only (noted "alternative 2 of 3"),
thinking in a collapsed ``<details>`` block above the reply, and images linked
from ``<stem>_files/`` beside the file (``export_thread_file``), or listed by
name and size when there is no file to put them beside (standard output).

Import rules (also in ``aiagents-tui import --help``):

- The whole file is parsed and validated first; a malformed file raises
  ``InvalidArgumentError`` naming the cause and writes nothing. Every field is
  checked for type and range: timestamps are finite Unix seconds from 1970 to
  the year 9999, positions and counts fit 32 bits, numbers anywhere are finite,
  and no value is nested deeper than ``MAX_IMPORT_DEPTH``. Images must be
  valid base64 of a PNG, JPEG, GIF or WebP whose sha256 is the one given, and
  every image a message refers to must be in the file; thinking blocks must be
  ``thinking`` (with text and signature) or ``redacted_thinking`` (with data);
  each reply slot must have exactly one chosen alternative, numbered from 0.
- Everything is written in one transaction: a failure part way leaves the
  database as it was.
- Ids are kept when none collide (import into a fresh database gives back the
  same thread); if the thread id or any message id already exists, the thread
  and all its messages get new ids. Timestamps, positions, statuses and
  counts are always kept, so export -> import -> export is equal apart from
  ids (and ``exported_at``).
- ``forked_from`` is kept only when that thread exists in the target database
  (the schema requires it); ``lineage`` is informational and not restored.
- The agent is matched by id, then by name, else created from the export.
- A ChatGPT conversation becomes one thread: the path from the root to
  ``current_node``; hidden, system and tool nodes are skipped and consecutive
  messages of one role are joined (the tool steps between them are dropped).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import os
import re
import sqlite3
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
import math
import tempfile
from typing import Annotated, Any, Literal
from urllib.parse import quote

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from tui_agents.errors import InvalidArgumentError, NotFoundError, StoreError
from tui_agents.images import MEDIA_TYPES, detect_media_type
from tui_agents.store import alternatives
from tui_agents.store.db import run, write
from tui_agents.store.ids import new_id
from tui_agents.store.images import put_images
from tui_agents.store.messages import SELECT_MESSAGE, insert_content, message_record, require_thread
from tui_agents.store.records import MAX_JSON_DEPTH, dumps, fetch_all, now
from tui_agents.types import Image

__all__ = [
    "EXPORT_FORMAT",
    "EXPORT_VERSION",
    "ExportedThread",
    "ImportReport",
    "export_thread",
    "export_thread_text",
    "export_thread_file",
    "write_markdown",
    "image_file_name",
    "to_json",
    "to_markdown",
    "parse_import",
    "import_data",
    "import_file",
    "check_tree",
    "loads_json",
]

EXPORT_FORMAT = "aiagents-tui/thread"
EXPORT_VERSION = 2
MAX_IMPORT_BYTES = 512 * 1024 * 1024
MAX_TIMESTAMP = 253402300799.0  # 9999-12-31 23:59:59 UTC, the last second a date can show
MAX_COUNT = 2**31 - 1  # positions and token counts
# The export's own structure (document > messages > message > meta) on top of the stored values' limit.
MAX_IMPORT_DEPTH = MAX_JSON_DEPTH + 4

Timestamp = Annotated[float, Field(ge=0, le=MAX_TIMESTAMP, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
MediaType = Literal["image/png", "image/jpeg", "image/gif", "image/webp"]
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
assert set(EXTENSIONS) == set(MEDIA_TYPES)  # a new accepted type needs its extension here
FILE_PREFIX = 16  # hex digits of the sha256 in an image's file name beside a Markdown export
_BLOCK_FIELDS = {"thinking": ("thinking", "signature"), "redacted_thinking": ("data",)}


def _check_block(block: dict[str, Any]) -> dict[str, Any]:
    """An Anthropic thinking block, kept exactly as given (the API checks its signature)."""
    kind = block.get("type")
    needs = _BLOCK_FIELDS.get(kind) if isinstance(kind, str) else None
    if needs is None:
        raise ValueError(f"a thinking block's type must be 'thinking' or 'redacted_thinking', not {_short(kind)}")
    for key in needs:
        if not isinstance(block.get(key), str):
            raise ValueError(f"a {kind} block needs '{key}' as text")
    return block


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


ThinkingBlock = Annotated[dict[str, Any], AfterValidator(_check_block)]


# --------------------------------------------------------------------------- models


class _Strict(BaseModel):
    # strict: a number given as text, or 1.0 for a position, is a mistake to report, not to guess at.
    model_config = ConfigDict(extra="forbid", strict=True)


class ExportedToolCall(_Strict):
    """One tool call of an assistant message."""

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ExportedImageRef(_Strict):
    """A message's reference to an image of the file's ``images`` (as ``store.images.image_ref`` writes it)."""

    sha256: Sha256
    media_type: MediaType
    name: str | None = None
    bytes: Count
    width: Count | None = None
    height: Count | None = None


class ExportedImage(_Strict):
    """An image's bytes, once per file, as base64."""

    sha256: Sha256
    media_type: MediaType
    data: str


class ExportedAlternative(_Strict):
    """Where a reply row sits among a slot's regenerated alternatives (``store.alternatives``)."""

    slot: Count  # position of the slot's first row
    index: Count  # 0-based alternative
    chosen: bool


class ExportedMessage(_Strict):
    """A message as stored."""

    id: str
    position: Count
    role: Literal["system", "user", "assistant", "tool"]
    content: str
    tool_calls: list[ExportedToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    status: Literal["complete", "streaming", "interrupted", "error"] = "complete"
    model: str | None = None
    usage: dict[str, Count] | None = None
    token_count: Count | None = None
    guardrail: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    created_at: Timestamp
    updated_at: Timestamp
    thinking: str | None = None
    thinking_blocks: list[ThinkingBlock] = Field(default_factory=list)
    images: list[ExportedImageRef] = Field(default_factory=list)
    alternative: ExportedAlternative | None = None


class ExportedAgent(_Strict):
    """The thread's agent record."""

    id: str
    name: str
    system_prompt: str = ""
    definition: dict[str, Any] | None = None
    provider: str | None = None
    model: str | None = None
    tools: list[str] = Field(default_factory=list)
    memory_strategy: str | None = None
    memory_params: dict[str, Any] = Field(default_factory=dict)
    created_at: Timestamp
    updated_at: Timestamp


class ExportedThreadInfo(_Strict):
    """The thread record (without its agent id, which travels as ``agent``)."""

    id: str
    user_id: str | None = None
    title: str | None = None
    title_source: Literal["user", "auto"] | None = None
    summary: str | None = None
    provider: str | None = None
    model: str | None = None
    created_at: Timestamp
    updated_at: Timestamp
    archived_at: Timestamp | None = None
    trashed_at: Timestamp | None = None
    forked_from: str | None = None
    forked_from_message: str | None = None
    fork_kind: Literal["fork", "branch"] | None = None


class ExportedThread(_Strict):
    """A whole exported thread: our JSON file."""

    format: Literal["aiagents-tui/thread"]
    version: Literal[1, 2]  # 1: before alternatives, thinking and images; still read
    exported_at: Timestamp
    thread: ExportedThreadInfo
    agent: ExportedAgent | None = None
    lineage: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    messages: list[ExportedMessage]
    images: list[ExportedImage] = Field(default_factory=list)


@dataclass
class ImportReport:
    """What an import wrote: one thread id per imported conversation, and notes."""

    thread_ids: list[str] = field(default_factory=list)
    kept_ids: bool = True
    notes: list[str] = field(default_factory=list)


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


def _when(ts: Any) -> str:
    if not isinstance(ts, (int, float)) or isinstance(ts, bool):
        return "-"
    try:
        return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return "-"


def _fence(text: str, lang: str = "") -> str:
    """A code fence longer than any backtick run inside ``text``."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text}\n{ticks}"


def _md_header(doc: Mapping[str, Any]) -> list[str]:
    thread = doc["thread"]
    lines = [f"# {thread.get('title') or 'Untitled thread'}", ""]
    lines.append(f"- Thread: `{thread['id']}`")
    agent = doc.get("agent")
    if agent:
        lines.append(f"- Agent: {agent['name']}")
    if thread.get("provider") or thread.get("model"):
        lines.append(f"- Model: {thread.get('provider') or '?'} / {thread.get('model') or 'default'}")
    lines.append(f"- Created: {_when(thread['created_at'])}; last activity {_when(thread['updated_at'])}")
    if thread.get("forked_from"):
        kind = thread.get("fork_kind") or "fork"
        at = f" at message `{thread['forked_from_message']}`" if thread.get("forked_from_message") else ""
        lines.append(f"- {kind.capitalize()} of `{thread['forked_from']}`{at}")
    if thread.get("summary"):
        lines += ["", f"> {thread['summary']}"]
    return lines


def _size(n: int) -> str:
    """A byte count as people read it: 812 B, 10.2 KB, 3.4 MB."""
    if n < 1000:
        return f"{n} B"
    if n < 1000**2:
        return f"{n / 1000:.1f} KB"
    return f"{n / 1000**2:.1f} MB"


def image_file_name(ref: Mapping[str, Any]) -> str:
    """The file name of an image beside a Markdown export: a sha256 prefix and the type's extension."""
    return f"{ref['sha256'][:FILE_PREFIX]}.{EXTENSIONS.get(ref['media_type'], 'bin')}"


def _md_label(ref: Mapping[str, Any], unsafe: str = r"[\r\n]") -> str:
    """An image's name on one line, without the ``unsafe`` characters (as spaces)."""
    name = ref.get("name") or image_file_name(ref)
    return re.sub(unsafe, " ", name).strip() or image_file_name(ref)


def _md_images(message: Mapping[str, Any], files: str | None) -> list[str]:
    """Images linked from ``files`` (a folder beside the Markdown file), or listed by name and size."""
    lines = []
    for ref in message.get("images") or []:
        if files is None:
            lines.append(f"- Image: {_md_label(ref)} ({ref['media_type']}, {_size(ref['bytes'])})")
        else:  # brackets and backslashes in the name would end or escape the link text
            label = _md_label(ref, r"[\[\]\\\r\n]")
            lines.append(f"![{label}]({quote(files + '/' + image_file_name(ref))})")
    return lines


def _md_thinking(message: Mapping[str, Any]) -> list[str]:
    """The model's thinking as a collapsed block; redacted (encrypted) blocks are only counted."""
    blocks = message.get("thinking_blocks") or []
    text = message.get("thinking") or "\n\n".join(b["thinking"] for b in blocks if b.get("type") == "thinking")
    redacted = sum(1 for b in blocks if b.get("type") == "redacted_thinking")
    if not text and not redacted:
        return []
    summary = "Thinking"
    took = (message.get("meta") or {}).get("thinking_ms")
    if isinstance(took, (int, float)) and not isinstance(took, bool) and math.isfinite(took):
        summary += f" ({took / 1000:.0f} s)"
    body = []
    if text:  # a "</details>" in the model's text would end the block early
        body.append(re.sub(r"(?i)</details", "&lt;/details", text.strip()))
    if redacted:
        body.append(f"_{redacted} redacted thinking block{'s' if redacted > 1 else ''} not shown._")
    return [f"<details><summary>{summary}</summary>", "", "\n\n".join(body), "", "</details>", ""]


def _md_message(message: Mapping[str, Any], files: str | None = None, note: str | None = None) -> list[str]:
    role = message["role"]
    bits = [role.capitalize() + (f" {note}" if note else ""), _when(message["created_at"])]
    if message.get("model"):
        bits.append(message["model"])
    if message.get("status") and message["status"] != "complete":
        bits.append(f"status: {message['status']}")
    usage = message.get("usage")
    if usage:
        bits.append(f"{usage.get('input_tokens', 0)} in / {usage.get('output_tokens', 0)} out tokens")
    meta = message.get("meta") or {}
    if role == "tool":
        bits[0] = f"Tool result: {meta.get('name') or message.get('tool_call_id') or '?'}"
        if meta.get("status"):
            bits.append(meta["status"])
        duration = meta.get("duration_ms")
        if isinstance(duration, (int, float)) and not isinstance(duration, bool) and math.isfinite(duration):
            bits.append(f"{duration:.0f} ms")
    lines = ["", f"## {' · '.join(bits)}", ""]
    guardrail = message.get("guardrail")
    if guardrail:
        lines += [f"> **Guardrail {guardrail.get('action', 'flagged')}**: {guardrail.get('reason', '')}", ""]
    lines += _md_thinking(message)
    if role == "tool":
        lines.append(_fence(message["content"]))
    elif message["content"]:
        lines.append(message["content"])
    for call in message.get("tool_calls") or []:
        args = json.dumps(call.get("arguments") or {}, ensure_ascii=False, indent=2)
        if lines[-1]:
            lines.append("")
        lines += [f"**Tool call** `{call['name']}` (`{call['id']}`)", "", _fence(args, "json")]
    pictures = _md_images(message, files)
    if pictures:
        lines += ([""] if lines[-1] else []) + pictures
    return lines


def _shown(messages: list[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], str | None]]:
    """The messages a reader sees (the chosen alternatives), each with its "(alternative 2 of 3)" note."""
    counts: dict[int, set[int]] = {}
    for m in messages:
        if m.get("alternative"):
            counts.setdefault(m["alternative"]["slot"], set()).add(m["alternative"]["index"])
    out, noted = [], set()
    for m in messages:
        alt = m.get("alternative")
        if alt and not alt["chosen"]:
            continue
        note = None
        if alt and alt["slot"] not in noted:  # on the first row of the chosen reply only
            noted.add(alt["slot"])
            note = f"(alternative {alt['index'] + 1} of {max(counts[alt['slot']]) + 1})"
        out.append((m, note))
    return out


def to_markdown(doc: Mapping[str, Any], files: str | None = None) -> str:
    """A readable Markdown transcript of an exported thread.

    Images link to ``files/<sha256-prefix>.<ext>`` when ``files`` names the folder beside the
    Markdown file that holds them (``write_markdown`` writes it); otherwise they are listed by name and size.
    """
    lines = _md_header(doc)
    for message, note in _shown(doc["messages"]):
        lines += _md_message(message, files, note)
    return "\n".join(lines).rstrip() + "\n"


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


def write_markdown(doc: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write the Markdown transcript to ``path`` and its images to ``<stem>_files/`` beside it. Blocking."""
    from tui_agents.files import write_text_through

    given = Path(path).expanduser()
    try:
        target = given.resolve()
    except (RuntimeError, OSError):
        target = None  # a symlink loop
    if target is None or (target.exists() and not target.is_file()):
        # a loop, a device, a FIFO or a folder: write_text_through refuses it plainly, and no
        # images may land beside it first (``/dev/null_files``)
        return write_text_through(given, "")
    folder = f"{target.stem}_files"
    shown = {ref["sha256"] for m, _ in _shown(doc["messages"]) for ref in m.get("images") or []}
    pictures = [i for i in doc.get("images") or [] if i["sha256"] in shown]
    if pictures:  # images first, so the links work as soon as the transcript appears
        (target.parent / folder).mkdir(parents=True, exist_ok=True)
        for image in pictures:
            _write_bytes(target.parent / folder / image_file_name(image), base64.b64decode(image["data"]))
    return write_text_through(given, to_markdown(doc, folder if pictures else None))


def _write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file, so a reader never sees half an image (mode 0600)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- parsing


def _error_text(exc: ValidationError) -> str:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(top)"
    return f"{loc}: {first['msg'].removeprefix('Value error, ')}"


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


def _timestamp(value: Any, what: str) -> float | None:
    """A ChatGPT time (Unix seconds, or an ISO string in some exports) as float seconds; out of range raises."""
    if isinstance(value, bool) or value is None:
        return None
    seconds: float | None = None
    if isinstance(value, (int, float)):
        seconds = float(value) if not isinstance(value, int) or abs(value) < 2**63 else math.inf
    elif isinstance(value, str):
        try:
            seconds = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except (ValueError, OverflowError, OSError):
            return None
    if seconds is not None and not 0 <= seconds <= MAX_TIMESTAMP:
        raise InvalidArgumentError(f"{what} is {value!r}, not a time between 1970 and 9999.")
    return seconds


def _chatgpt_text(content: Any) -> str:
    """The text of a ChatGPT message ``content``: string parts joined; attachments noted."""
    if not isinstance(content, Mapping):
        return ""
    parts = content.get("parts")
    if isinstance(parts, list):
        texts = [p for p in parts if isinstance(p, str)]
        others = len(parts) - len(texts)
        text = "\n".join(texts).strip()
        if others:
            note = f"[{others} attachment{'s' if others > 1 else ''} not imported]"
            text = f"{text}\n\n{note}" if text else note
        return text
    for key in ("text", "result"):
        if isinstance(content.get(key), str):
            return content[key].strip()
    return ""


def _chatgpt_path(conv: Mapping[str, Any], index: int) -> list[Mapping[str, Any]]:
    """The nodes from the root to ``current_node``, checking the tree as we go."""
    mapping = conv.get("mapping")
    if not isinstance(mapping, Mapping) or not mapping:
        raise InvalidArgumentError(f"Conversation {index + 1} has no 'mapping' of messages.")
    current = conv.get("current_node")
    if current is None:  # some exports omit it: follow the last leaf in file order
        leaves = [k for k, n in mapping.items() if isinstance(n, Mapping) and not n.get("children")]
        current = leaves[-1] if leaves else None
    if not isinstance(current, str) or current not in mapping:
        raise InvalidArgumentError(f"Conversation {index + 1}: current_node {current!r} is not in its mapping.")
    path: list[Mapping[str, Any]] = []
    seen: set[str] = set()
    node_id: Any = current
    while node_id is not None:
        if node_id in seen:
            raise InvalidArgumentError(f"Conversation {index + 1}: its parent links form a loop.")
        node = mapping.get(node_id)
        if not isinstance(node, Mapping):
            raise InvalidArgumentError(f"Conversation {index + 1}: node {node_id!r} is missing or malformed.")
        seen.add(node_id)
        path.append(node)
        node_id = node.get("parent")
    path.reverse()
    return path


def _chatgpt_messages(conv: Mapping[str, Any], index: int, fallback_ts: float) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for node in _chatgpt_path(conv, index):
        msg = node.get("message")
        if not isinstance(msg, Mapping):
            continue
        author = msg.get("author") if isinstance(msg.get("author"), Mapping) else {}
        role = author.get("role")
        metadata = msg.get("metadata") if isinstance(msg.get("metadata"), Mapping) else {}
        if role not in ("user", "assistant") or metadata.get("is_visually_hidden_from_conversation"):
            continue
        text = _chatgpt_text(msg.get("content"))
        if not text:
            continue
        ts = _timestamp(msg.get("create_time"), f"Conversation {index + 1}: a message's create_time") \
            or (out[-1]["created_at"] if out else fallback_ts)
        model = metadata.get("model_slug") if isinstance(metadata.get("model_slug"), str) else None
        if out and out[-1]["role"] == role:  # tool steps between two replies were dropped
            out[-1]["content"] += "\n\n" + text
            out[-1]["updated_at"] = ts
            continue
        out.append({"role": role, "content": text, "model": model if role == "assistant" else None,
                    "created_at": ts, "updated_at": ts})
    return out


def _parse_chatgpt(data: list[Any]) -> list[dict[str, Any]]:
    """ChatGPT conversations as import bundles (thread dict + message dicts)."""
    bundles = []
    for index, conv in enumerate(data):
        if not isinstance(conv, Mapping):
            raise InvalidArgumentError(f"Conversation {index + 1} is not a JSON object.")
        created = _timestamp(conv.get("create_time"), f"Conversation {index + 1}: create_time") or now()
        messages = _chatgpt_messages(conv, index, created)
        for position, message in enumerate(messages, start=1):
            message["position"] = position
        title = conv.get("title") if isinstance(conv.get("title"), str) and conv.get("title").strip() else None
        updated = _timestamp(conv.get("update_time"), f"Conversation {index + 1}: update_time") \
            or (messages[-1]["updated_at"] if messages else created)
        bundles.append({
            "thread": {"id": None, "title": title or "Imported ChatGPT conversation",
                       "title_source": "user", "created_at": created, "updated_at": max(updated, created)},
            "agent": None,
            "messages": messages,
        })
    return bundles


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
