"""Which process is writing a streaming reply, and whether that process still runs.

A reply row written as ``streaming`` records its writer as ``host|pid|start``,
where ``start`` is the process's start time from psutil. At start-up a row
whose writer is on this host and no longer runs is a reply cut off by a crash;
the start time tells a reused pid from the writer itself. A writer on another
host cannot be checked, so the caller falls back to how long the row is idle.
"""

from __future__ import annotations

import functools
import os
import socket

__all__ = ["current_writer", "writer_alive"]

_SEP = "|"


def _start_token(pid: int) -> str | None:
    """The process's start time as text, or None when no such process runs (a zombie counts as gone)."""
    import psutil  # here, not at import: opening the store must not pay for it (~10 ms)

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return f"{process.create_time():.2f}"
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    except psutil.AccessDenied:
        return "?"  # it runs, but its start time is hidden from us: treat it as alive


@functools.cache
def _identity(pid: int) -> str:
    return _SEP.join((socket.gethostname(), str(pid), _start_token(pid) or "?"))


def current_writer() -> str:
    """This process's writer token ``host|pid|start`` (computed per pid, so a forked child gets its own)."""
    return _identity(os.getpid())


def writer_alive(token: str | None) -> bool | None:
    """Whether the process behind a writer token still runs; None when it cannot be told (another host, no token)."""
    if not token:
        return None
    host, _, rest = token.partition(_SEP)
    pid_text, _, start = rest.partition(_SEP)
    if host != socket.gethostname() or not pid_text.isdigit():
        return None
    if token == current_writer():
        return True
    running = _start_token(int(pid_text))
    if running is None:
        return False
    return "?" in (running, start) or running == start
