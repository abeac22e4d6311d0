"""ImageStore: image bytes kept once, addressed by their sha256, shared by every message that shows them.

A message's content lists its images as references ``{sha256, media_type,
name, bytes, width, height}`` (``MessageRecord["images"]``); the bytes live here. Deleting
the last content that lists an image deletes the image (a trigger, see
``migrations``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

import aiosqlite

from tui_agents.errors import NotFoundError
from tui_agents.store.db import run, write
from tui_agents.store.records import now
from tui_agents.types import Image

__all__ = ["ImageStore", "image_ref"]


def image_ref(image: Image) -> dict[str, Any]:
    """The reference a message keeps to a stored image."""
    return {"sha256": image.sha256, "media_type": image.media_type, "name": image.name, "bytes": len(image.data),
            "width": image.width, "height": image.height}


def put_images(db: sqlite3.Connection, images: Iterable[Image]) -> None:
    """Store each image's bytes unless an image with that sha256 is already stored (in this transaction)."""
    ts = now()
    db.executemany(
        "INSERT OR IGNORE INTO images(sha256, media_type, bytes, created_at, data) VALUES (?,?,?,?,?)",
        [(i.sha256, i.media_type, len(i.data), ts, i.data) for i in images])


class ImageStore:
    """Read the images messages refer to (``MessageStore.add(images=...)`` stores them)."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def get(self, sha256: str) -> Image:
        """The image with this sha256 (NotFoundError otherwise)."""
        found = await self.get_many([sha256])
        if not found:
            raise NotFoundError(f"Image {sha256[:12]} is not stored.")
        return found[sha256]

    async def get_many(self, refs: Iterable[str | dict[str, Any]]) -> dict[str, Image]:
        """Images by sha256 for these references (sha256 strings or message image refs); unknown ones skipped."""
        names: dict[str, dict[str, Any]] = {}
        for ref in refs:
            if isinstance(ref, str):
                names.setdefault(ref, {})
            else:
                names[ref["sha256"]] = ref

        def select(db: sqlite3.Connection) -> dict[str, Image]:
            out: dict[str, Image] = {}
            for sha in names:
                row = db.execute("SELECT media_type, data FROM images WHERE sha256 = ?", (sha,)).fetchone()
                if row is not None:
                    ref = names[sha]
                    out[sha] = Image(media_type=row[0], data=bytes(row[1]), sha256=sha, name=ref.get("name"),
                                     width=ref.get("width"), height=ref.get("height"))
            return out

        return await run(self.conn, select) if names else {}

    async def stats(self) -> dict[str, int]:
        """``{"count", "bytes"}`` of the stored images."""

        def select(db: sqlite3.Connection) -> dict[str, int]:
            count, size = db.execute("SELECT count(*), coalesce(sum(bytes), 0) FROM images").fetchone()
            return {"count": count, "bytes": size}

        return await run(self.conn, select)
