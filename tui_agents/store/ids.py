"""Prefixed, time-ordered ids: ``thr_`` + 12 hex digits of Unix milliseconds + a 10-hex-digit counter.

Ids made later sort after ids made earlier (lexicographically, fixed width), in
one process even within the same millisecond. A new millisecond starts the
counter at a random value so two processes rarely collide; the store's UNIQUE
constraints catch the rare case.
"""

from __future__ import annotations

import secrets
import threading
import time

__all__ = ["new_id", "new_id_block", "PREFIXES"]

PREFIXES = ("agt", "thr", "msg", "doc", "job")

_COUNTER_BITS = 40
_RANDOM_START = 1 << 36  # a random start leaves room for 2**40 - 2**36 ids in one millisecond
_lock = threading.Lock()
_last_ms = 0
_last_counter = 0


def _reserve(n: int) -> tuple[int, int]:
    """Reserve ``n`` consecutive counters; returns (milliseconds, first counter)."""
    global _last_ms, _last_counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:  # same millisecond, or the clock went back: stay monotonic
            ms, start = _last_ms, _last_counter + 1
            if start + n >= 1 << _COUNTER_BITS:
                ms, start = ms + 1, secrets.randbelow(_RANDOM_START)
        else:
            start = secrets.randbelow(_RANDOM_START)
        _last_ms, _last_counter = ms, start + n - 1
        return ms, start


def _head(prefix: str, ms: int) -> str:
    return f"{prefix.rstrip('_')}_{ms:012x}"


def new_id(prefix: str) -> str:
    """A new sortable id such as ``thr_0197eb5670001a2b3c4d5e``; ``prefix`` with or without ``_``."""
    ms, counter = _reserve(1)
    return f"{_head(prefix, ms)}{counter:010x}"


def new_id_block(prefix: str, n: int) -> tuple[str, int]:
    """Reserve ``n`` ids: id ``i`` is ``f"{head}{start + i:010x}"``, in SQL ``printf('%s%010x', head, start + i)``."""
    ms, start = _reserve(max(1, n))
    return _head(prefix, ms), start
