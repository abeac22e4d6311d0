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

from tui_agents.store.transfer.export import export_thread, export_thread_file, export_thread_text, to_json
from tui_agents.store.transfer.format import EXPORT_FORMAT, EXPORT_VERSION, ExportedThread, ImportReport
from tui_agents.store.transfer.importer import check_tree, import_data, import_file, loads_json, parse_import
from tui_agents.store.transfer.markdown import image_file_name, to_markdown, write_markdown

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
