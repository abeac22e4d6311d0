"""Incremental stream decoders: Server-Sent Events and newline-delimited JSON.

Both take raw bytes in chunks cut anywhere (even inside a UTF-8 character) and
return whole records. They are the hot path of every reply, so they work on
whole chunks with ``str.split`` and keep per-line work to a few string tests;
no regexes. An unfinished line is kept as a list of pieces joined once its end
arrives, so a long line costs time linear in its length; a line (or an SSE
event's data) longer than ``max_line`` raises ``StreamLineTooLongError``.
"""

from __future__ import annotations

import codecs
import json
from typing import Any

from ..errors import StreamLineTooLongError

__all__ = ["SSEDecoder", "NDJSONDecoder", "SSEEvent", "loads", "MAX_LINE"]

MAX_LINE = 16 * 1024 * 1024
"""The longest line (and SSE event data) a decoder accepts, in characters for SSE and bytes for NDJSON."""


def _too_long(limit: int) -> StreamLineTooLongError:
    return StreamLineTooLongError(
        f"The server sent a stream line longer than {limit / 1048576:g} MiB; the reply was stopped there."
    )

_scan_once = json.JSONDecoder().scan_once


def loads(text: str | bytes) -> Any:
    """``json.loads`` without its per-call regex passes, for one compact JSON value per event.

    Input the fast scanner does not consume exactly (surrounding whitespace,
    trailing garbage, bytes that are not UTF-8) goes through ``json.loads``, which also raises
    the usual ``ValueError`` for bad JSON.
    """
    if type(text) is bytes:
        try:
            text = text.decode()
        except UnicodeDecodeError:
            return json.loads(text)  # other encodings json accepts (UTF-16/32), or its error
    if type(text) is str:
        try:
            value, end = _scan_once(text, 0)
        except StopIteration:
            return json.loads(text)
        if end == len(text):
            return value
    return json.loads(text)

SSEEvent = tuple[str, str]
"""One dispatched event: ``(event name, data)``; the name is ``"message"`` when unset."""


class SSEDecoder:
    """Decodes a ``text/event-stream`` body following the WHATWG Server-Sent Events rules.

    Lines end in CRLF, LF or CR; lines starting with ``:`` are comments; ``data``
    lines of one event are joined with ``\\n``; a blank line dispatches the
    event; an event with no ``data`` is not dispatched. ``id`` and ``retry``
    are parsed and kept but not acted on.
    """

    __slots__ = ("_decoder", "_pieces", "_pending", "_pending_cr", "_data", "_data_size", "_event",
                 "last_event_id", "retry", "max_line")

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pieces: list[str] = []  # the unfinished last line, in pieces
        self._pending = 0  # its length
        self._pending_cr = False
        self._data: list[str] = []
        self._data_size = 0
        self._event = ""
        self.last_event_id = ""
        self.retry: int | None = None
        self.max_line = max_line

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Decode one chunk of bytes and return the events it completed."""
        text = self._decoder.decode(chunk)
        if not text:
            return []
        if self._pending_cr:
            # A CR ended the last chunk: an LF starting this one is the same line break.
            self._pending_cr = False
            if text[0] == "\n":
                text = text[1:]
        if "\r" in text:
            self._pending_cr = text[-1] == "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if "\n" not in text:
            self._hold(text)
            return []
        if self._pieces:
            self._pieces.append(text)
            text = "".join(self._pieces)
            self._pieces, self._pending = [], 0
        lines = text.split("\n")
        tail = lines.pop()
        if len(text) > self.max_line:
            self._check(lines)
        if tail:
            self._hold(tail)
        return self._process(lines)

    def _hold(self, text: str) -> None:
        """Keep ``text`` as (part of) the unfinished last line."""
        self._pieces.append(text)
        self._pending += len(text)
        if self._pending > self.max_line:
            raise _too_long(self.max_line)

    def _check(self, lines: list[str]) -> None:
        if any(len(line) > self.max_line for line in lines):
            raise _too_long(self.max_line)

    def close(self) -> list[SSEEvent]:
        """End of stream: flush a last line and a last event that lack their blank line.

        The spec drops an event that is not followed by a blank line; we dispatch
        it, because OpenAI-compatible servers often end with ``data: [DONE]\\n``.
        A truncated JSON payload still fails to parse in the caller.
        """
        tail = self._decoder.decode(b"", final=True)
        if tail:
            self._hold(tail)
        lines = ["".join(self._pieces)] if self._pieces else []
        self._pieces, self._pending = [], 0
        events = self._process(lines)
        if self._data:
            events.append((self._event or "message", "\n".join(self._data)))
        self._data = []
        self._data_size = 0
        self._event = ""
        return events

    def _process(self, lines: list[str]) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        data = self._data
        for line in lines:
            if not line:
                if data:
                    events.append((self._event or "message", "\n".join(data) if len(data) > 1 else data[0]))
                    data = self._data = []
                    self._data_size = 0
                self._event = ""
            elif line.startswith("data:"):
                data.append(line[6:] if line[5:6] == " " else line[5:])  # one slice, not two
                if len(data) > 1:  # data lines join into one event: cap their sum too
                    self._add_data(data)
            elif line.startswith("event:"):
                self._event = line[7:] if line[6:7] == " " else line[6:]
            elif line[0] == ":":
                continue
            else:
                self._field(line, data)
        return events

    def _field(self, line: str, data: list[str]) -> None:
        name, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            data.append(value)
            if len(data) > 1:
                self._add_data(data)
        elif name == "id":
            if "\0" not in value:
                self.last_event_id = value
        elif name == "retry":
            if value.isdigit():
                self.retry = int(value)

    def _add_data(self, data: list[str]) -> None:
        if not self._data_size:
            self._data_size = len(data[0])
        self._data_size += len(data[-1]) + 1
        if self._data_size > self.max_line:
            raise _too_long(self.max_line)


class NDJSONDecoder:
    """Decodes newline-delimited JSON: one JSON value per line, blank lines skipped.

    Works on bytes: a newline byte never occurs inside a UTF-8 sequence, so a
    line is complete however the chunks were cut, and ``json.loads`` reads the
    UTF-8 bytes directly.
    """

    __slots__ = ("_pieces", "_pending", "max_line")

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._pieces: list[bytes] = []  # the unfinished last line, in pieces
        self._pending = 0  # its length
        self.max_line = max_line

    def feed(self, chunk: bytes) -> list[Any]:
        """Decode one chunk; return the values of the lines it completed. Raises ``ValueError`` on bad JSON."""
        return [loads(line) for line in self.feed_lines(chunk)]

    def close(self) -> list[Any]:
        """End of stream: decode a last line that has no newline."""
        return [loads(line) for line in self.close_lines()]

    def feed_lines(self, chunk: bytes) -> list[bytes]:
        """Like ``feed``, but return the completed non-blank lines undecoded (the caller parses each)."""
        if b"\n" not in chunk:
            self._hold(chunk)
            return []
        if self._pieces:
            self._pieces.append(chunk)
            chunk = b"".join(self._pieces)
            self._pieces, self._pending = [], 0
        lines = chunk.split(b"\n")
        tail = lines.pop()
        if len(chunk) > self.max_line and any(len(line) > self.max_line for line in lines):
            raise _too_long(self.max_line)
        if tail:
            self._hold(tail)
        return [line for line in lines if line.strip()]

    def close_lines(self) -> list[bytes]:
        """Like ``close``, undecoded."""
        tail = b"".join(self._pieces)
        self._pieces, self._pending = [], 0
        return [tail] if tail.strip() else []

    def _hold(self, data: bytes) -> None:
        """Keep ``data`` as (part of) the unfinished last line."""
        self._pieces.append(data)
        self._pending += len(data)
        if self._pending > self.max_line:
            raise _too_long(self.max_line)
