"""Markdown export: the chosen replies, thinking in ``<details>``, images beside the file or listed."""

from __future__ import annotations

import base64
import json
import math
import os
import re
import tempfile
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tui_agents.store.transfer.format import EXTENSIONS, FILE_PREFIX


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
