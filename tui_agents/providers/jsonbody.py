"""Request bodies as JSON bytes, with long strings that need no escaping copied in as they are.

An attached image is megabytes of base64; ``json.dumps`` would spend tens of
milliseconds checking it for characters to escape. Base64 (and a data URL of
it) has none, so such strings are swapped for a marker, the rest is dumped,
and the marker replaced by the string's bytes.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

__all__ = ["encode_body"]

_LONG = 64 * 1024  # shorter strings are cheaper to escape than to swap
_SAFE = bytes(c for c in range(0x20, 0x7F) if c not in b'"\\')  # what JSON writes as is


def _plain(text: str) -> bytes | None:
    """``text`` as bytes when JSON writes it unchanged (printable ASCII, no quote or backslash), else None."""
    if not text.isascii():  # O(1): CPython knows
        return None
    data = text.encode("ascii")
    return data if not data.translate(None, _SAFE) else None


def encode_body(payload: Any) -> bytes:
    """``payload`` as compact UTF-8 JSON, as ``json.dumps(..., ensure_ascii=False)`` would write it."""
    blobs: list[bytes] = []
    marker = f"\x1e{uuid.uuid4().hex}"  # a control character: never left unescaped in user text

    def swap(value: Any) -> Any:
        if isinstance(value, str):
            if len(value) >= _LONG and (data := _plain(value)) is not None:
                blobs.append(data)
                return f"{marker}{len(blobs) - 1}"
            return value
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v) for v in value]
        return value

    text = json.dumps(swap(payload), ensure_ascii=False, separators=(",", ":"))
    if not blobs:
        return text.encode()
    escaped = json.dumps(marker)[1:-1]  # how the marker reads inside the dumped text
    head, *rest = text.split(escaped)
    out = [head.encode()]
    for piece in rest:
        digits = len(piece) - len(piece.lstrip("0123456789"))
        out.append(blobs[int(piece[:digits])])
        out.append(piece[digits:].encode())
    return b"".join(out)
