"""Small file helpers the engine, the CLI and the app share."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from .errors import InvalidArgumentError

__all__ = ["write_text_atomic", "write_text_through"]


def write_text_atomic(path: Path, text: str, mode: int | None = None) -> None:
    """Write ``text`` to ``path`` as UTF-8 so a reader sees the old file or the new one, never half of it.

    A temp file in the same folder is written, flushed to disk and moved over ``path``. The file is
    0600 unless ``mode`` is given. Blocking.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            if mode is not None:
                os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_through(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` atomically to the file ``path`` names, following symlinks; returns the file written.

    An existing file keeps its mode (a new one is 0600); a target that is not a
    regular file (a device, a FIFO, a folder) or a symlink loop is refused with
    ``InvalidArgumentError`` and left untouched. Blocking.
    """
    given = Path(path).expanduser()
    try:
        target = given.resolve()
    except (RuntimeError, OSError):  # Python 3.11 reports a symlink loop as RuntimeError
        raise InvalidArgumentError(f"{given} is a loop of symbolic links; give another file name.") from None
    try:
        info = target.stat()
    except FileNotFoundError:
        write_text_atomic(target, text)
        return target
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise InvalidArgumentError(f"{given} is {kind}; give the name of a file to write.")
    write_text_atomic(target, text, mode=stat.S_IMODE(info.st_mode))
    return target
