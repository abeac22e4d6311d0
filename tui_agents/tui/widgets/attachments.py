"""Images attached to the next message: chips above the composer, the path prompt, and pasted paths.

A chip shows the file's name, type, pixel size and byte size; a click removes
it. The prompt completes paths as they are typed. A terminal "drops" a file by
pasting its path (maybe quoted, maybe a ``file://`` URL): ``image_paths_in``
tells such a paste from text.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Input, Static

from ...sanitize import sanitize

__all__ = ["AttachmentBar", "AttachmentChip", "AttachScreen", "ImagesLine", "PathSuggester", "chip_label",
           "image_paths_in", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / (1024 * 1024):.1f} MB"


def chip_label(name: str | None, media_type: str, width: int | None, height: int | None, size: int | None) -> str:
    """"cat.png · PNG · 640×480 · 12.3 KB"."""
    kind = media_type.split("/")[-1].upper()
    pixels = f"{width}×{height}" if width and height else "? px"
    return " · ".join([sanitize(name or "image"), kind, pixels, _size(size)])


def _one_path(text: str) -> Path | None:
    text = text.strip()
    if text.startswith("file://"):
        text = unquote(urlparse(text).path)
    path = Path(os.path.expanduser(text))
    if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
        return path
    return None


def image_paths_in(text: str) -> list[Path]:
    """The image files a paste names (one per line, or shell-quoted), or [] when it is anything else."""
    text = text.strip()
    if not text or len(text) > 8192:
        return []
    whole = _one_path(text.strip("'\""))
    if whole is not None:
        return [whole]
    try:
        words = [w for line in text.splitlines() for w in shlex.split(line)]
    except ValueError:  # an unbalanced quote: ordinary text
        return []
    paths = [_one_path(w) for w in words]
    return [p for p in paths if p is not None] if words and all(paths) else []


class PathSuggester(Suggester):
    """Completes the last part of a file path from the folder it names (folders first get a trailing slash)."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        import asyncio

        return await asyncio.to_thread(self._complete, value)

    @staticmethod
    def _complete(value: str) -> str | None:
        if not value or value.endswith(("'", '"')):
            return None
        folder, sep, stem = value.rpartition("/")
        base = Path(os.path.expanduser(folder or "/")) if sep else Path(".")
        try:
            names = sorted(e.name + ("/" if e.is_dir() else "") for e in os.scandir(base)
                           if e.name.startswith(stem) and (stem.startswith(".") or not e.name.startswith(".")))
        except OSError:
            return None
        images = [n for n in names if n.endswith("/") or n.lower().endswith(IMAGE_SUFFIXES)]
        choice = (images or names)[:1]
        if not choice or choice[0] == stem:
            return None
        return value[: len(value) - len(stem)] + choice[0]


class AttachmentChip(Static, can_focus=False):
    """One attached image; a click removes it."""

    DEFAULT_CSS = "AttachmentChip { width: auto; height: 1; margin-right: 2; background: $boost; padding: 0 1; }"

    class Removed(Message):
        """The user removed the chip of image ``sha256``."""

        def __init__(self, sha256: str) -> None:
            super().__init__()
            self.sha256 = sha256

    def __init__(self, image: Any) -> None:
        label = chip_label(image.name, image.media_type, image.width, image.height, len(image.data))
        super().__init__(Text(f"▣ {label}  ✕"), markup=False)
        self.image = image
        self.tooltip = "Click to remove this image"

    def on_click(self) -> None:
        self.post_message(self.Removed(self.image.sha256))


class AttachmentBar(Horizontal):
    """The images that go with the next message (hidden while there are none)."""

    DEFAULT_CSS = """
    AttachmentBar { height: auto; display: none; padding: 0 1; }
    AttachmentBar.-some { display: block; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.images: list[Any] = []

    def add(self, image: Any) -> bool:
        """Attach ``image`` (the same bytes twice count once); returns whether it was new."""
        if any(i.sha256 == image.sha256 for i in self.images):
            return False
        self.images.append(image)
        self.mount(AttachmentChip(image))
        self.add_class("-some")
        return True

    def remove_image(self, sha256: str) -> None:
        """Detach the image ``sha256``."""
        self.images = [i for i in self.images if i.sha256 != sha256]
        for chip in self.query(AttachmentChip):
            if chip.image.sha256 == sha256:
                chip.remove()
        self.set_class(bool(self.images), "-some")

    def clear(self) -> None:
        """Detach everything (after a send)."""
        self.images = []
        self.query(AttachmentChip).remove()
        self.remove_class("-some")

    @on(AttachmentChip.Removed)
    def _removed(self, event: AttachmentChip.Removed) -> None:
        event.stop()
        self.remove_image(event.sha256)


class ImagesLine(Static):
    """The images a sent message carries, under its text."""

    DEFAULT_CSS = "ImagesLine { color: $text-muted; padding: 0 1; height: auto; }"

    def __init__(self, refs: Iterable[dict[str, Any]]) -> None:
        labels = [chip_label(r.get("name"), r.get("media_type") or "image/?", r.get("width"), r.get("height"),
                             r.get("bytes")) for r in refs]
        super().__init__(Text("\n".join(f"▣ {label}" for label in labels)), markup=False)


class AttachScreen(ModalScreen["list[str] | None"]):
    """Ask for image paths (tab completes); dismisses with the paths or None."""

    DEFAULT_CSS = """
    AttachScreen { align: center middle; background: $background 60%; }
    AttachScreen > .dialog { width: 80; height: auto; padding: 1 2; border: round $primary; background: $surface; }
    AttachScreen Input { margin-top: 1; }
    AttachScreen .hint { color: $text-muted; margin-top: 1; }
    AttachScreen .hint.-error { color: $error; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="dialog.cancel"),
                # priority: tab would otherwise move the focus (and the completion shown would be dropped)
                Binding("tab", "complete", "Complete the path", id="attach.complete", show=False, priority=True)]
    HINT = ("tab or → accepts the completion · several paths: separate them with spaces, quote a path that has "
            "spaces · enter attaches")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text("Attach images", style="bold"), markup=False)
            yield Input(placeholder="path of a PNG, JPEG, GIF or WebP image", suggester=PathSuggester(),
                        id="image-path")
            yield Static(Text(self.HINT), classes="hint", markup=False)

    def action_complete(self) -> None:
        """Accept the completion shown after the cursor (as → does)."""
        box = self.query_one("#image-path", Input)
        if box.cursor_at_end:
            box.action_cursor_right()

    @on(Input.Submitted, "#image-path")
    def _submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if not value:
            self.dismiss(None)
            return
        paths = self._paths(value)
        missing = [p for p in paths if not os.path.exists(p)]
        if missing:  # say so here: closing would lose what was typed
            hint = self.query_one(".hint", Static)
            hint.update(Text(f"There is no file at {sanitize(missing[0])!r}. {self.HINT}"))
            hint.add_class("-error")
            return
        self.dismiss(paths)

    @staticmethod
    def _paths(value: str) -> list[str]:
        whole = os.path.expanduser(value.strip("'\""))
        if os.path.exists(whole):
            return [whole]
        try:
            return [os.path.expanduser(w) for w in shlex.split(value)]
        except ValueError:
            return [whole]
