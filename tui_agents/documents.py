"""Document ingestion: text and Markdown files (folders recursively) into ``DocumentStore``.

The title is a Markdown file's first heading, else the file name without its
extension; ``source`` is the file's absolute path. Adding a path that is already
stored replaces that document, so re-running ``docs add`` on a folder refreshes
it instead of duplicating it. Binary, unreadable, empty and oversized files are
skipped with a note. Walking a folder skips hidden files and folders (``.git``,
``.venv``...); a hidden file named directly is added. An empty path, a symlink
loop, a FIFO or device, and a folder that cannot be read are skipped with a note
saying so (never read, never mistaken for the current folder).
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "LoadedFile",
    "IngestReport",
    "read_text_file",
    "title_for",
    "collect_files",
    "ingest_paths",
]

MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdown", ".mkd", ".mdx")
_SNIFF_BYTES = 8192
_ATX_HEADING = re.compile(r"^\s{0,3}#{1,6}[ \t]+(.+?)[ \t#]*$")
_SETEXT_UNDERLINE = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")


@dataclass(frozen=True, slots=True)
class LoadedFile:
    """A file read as text, ready to store."""

    path: Path
    title: str
    text: str


@dataclass
class IngestReport:
    """What ``ingest_paths`` did: documents stored, ids they replaced, and files skipped (path, reason).

    ``added`` holds every document stored, new or in place of an older one;
    ``replacing`` maps the id of each that replaced documents to their ids.
    """

    added: list[dict[str, Any]] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    replacing: dict[str, list[str]] = field(default_factory=dict)


class _Skip(Exception):
    """A file is not a usable text document; the message says why."""


def title_for(path: Path, text: str) -> str:
    """A Markdown file's first heading (ATX or setext, outside code fences), else the file name's stem.

    Only Markdown files are searched: in a ``.txt``, ``.py`` or ``.toml`` file a ``#`` line is a comment.
    """
    if path.suffix.lower() not in MARKDOWN_SUFFIXES:
        return path.stem or path.name
    in_fence = False
    previous = ""
    for line in text.splitlines()[:500]:
        if _FENCE.match(line):
            in_fence = not in_fence
            previous = ""
            continue
        if in_fence:
            continue
        heading = _ATX_HEADING.match(line)
        if heading and heading.group(1).strip():
            return heading.group(1).strip()
        if previous.strip() and _SETEXT_UNDERLINE.match(line) and not previous.lstrip().startswith(("-", "*", ">")):
            return previous.strip()
        previous = line
    return path.stem or path.name


def read_text_file(path: Path) -> LoadedFile:
    """Read ``path`` as UTF-8 text (blocking); raises ``_Skip`` for binary, empty or huge files."""
    try:
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise _Skip(f"larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB")
        data = path.read_bytes()
    except OSError as exc:
        raise _Skip(f"unreadable ({exc.strerror or exc})") from exc
    if b"\x00" in data[:_SNIFF_BYTES]:
        raise _Skip("binary file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _Skip("not UTF-8 text (binary?)") from exc
    if not text.strip():
        raise _Skip("empty")
    return LoadedFile(path=path, title=title_for(path, text), text=text)


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def collect_files(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Expand files and folders (recursively, sorted, hidden entries skipped) into absolute file paths.

    Returns the files and the paths skipped, each with the reason in plain words.
    """
    files: list[Path] = []
    skipped: list[tuple[str, str]] = []
    seen: set[Path] = set()

    def keep(path: Path) -> None:
        if path not in seen:
            seen.add(path)
            files.append(path)

    def unreadable(error: OSError) -> None:
        skipped.append((str(error.filename), f"unreadable folder ({error.strerror or error})"))

    for raw in paths:
        path, what = _resolve(raw)
        if path is None:
            skipped.append((str(raw), what))
        elif what == "file":
            keep(path)
        else:  # a folder
            for root, dirs, names in os.walk(path, onerror=unreadable):
                dirs[:] = sorted(d for d in dirs if not _is_hidden(d))
                for name in sorted(names):
                    if not _is_hidden(name) and (Path(root) / name).is_file():
                        keep(Path(root) / name)
    return files, skipped


def _resolve(raw: str | os.PathLike[str]) -> tuple[Path | None, str]:
    """The absolute path and "file" or "folder", or None and why it cannot be added."""
    if not os.fspath(raw).strip():
        return None, "an empty path names no file or folder"
    try:
        path = Path(raw).expanduser().resolve()
    except RuntimeError:  # Python 3.11 reports a symlink loop this way
        return None, "a loop of symbolic links"
    except OSError as exc:
        return None, f"unreadable ({exc.strerror or exc})"
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None, "no such file or folder"
    except OSError as exc:
        return None, f"unreadable ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        return path, "file"
    if stat.S_ISDIR(mode):
        return path, "folder"
    kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
    return None, f"not a regular file ({kind})"


async def ingest_paths(store: Any, paths: Iterable[str | os.PathLike[str]]) -> IngestReport:
    """Add every text file under ``paths`` to ``store`` (a ``DocumentStore``); replace same-source documents."""
    files, missing = await asyncio.to_thread(collect_files, list(paths))
    report = IngestReport(skipped=list(missing))
    for path in files:
        try:
            loaded = await asyncio.to_thread(read_text_file, path)
        except _Skip as exc:
            report.skipped.append((str(path), str(exc)))
            continue
        record, replaced = await store.replace_source(loaded.title, loaded.text, str(path))
        report.added.append(record)
        report.replaced.extend(replaced)
        if replaced:
            report.replacing[record["id"]] = list(replaced)
    return report
