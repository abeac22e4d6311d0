"""Opening the database, running migrations, and running store work on aiosqlite's thread.

``connect(path)`` returns an ``aiosqlite.Connection`` (row factory
``sqlite3.Row``, autocommit mode) with WAL, foreign keys, ``synchronous=NORMAL``
and a busy timeout, migrated to the latest schema. A file written by a newer
schema is refused with ``SchemaError`` before anything in it is changed.

WAL checkpoints run off the request path: the connection's automatic
checkpoint only triggers at a large WAL (``AUTOCHECKPOINT_PAGES``, a safety
net), and after a write that leaves the WAL file over ``CHECKPOINT_BYTES`` a
``PASSIVE`` checkpoint runs on another connection in a worker thread (at most
one at a time, at most once a second), so a commit never pays for copying the
WAL into the database.

Every store method runs as one function on the connection's worker thread
(``run``/``write``), so its statements never interleave with another
coroutine's, a write is one ``BEGIN IMMEDIATE`` transaction (no "database is
locked" upgrade deadlock between processes), and a call costs one thread hop.

That worker thread is a daemon, and connections still open at interpreter exit
are closed then: a script that never closes its connection (say, after an
exception) still exits when its main coroutine ends.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import sqlite3
import threading
import time
import warnings
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import aiosqlite

from tui_agents.errors import AgentError, InvalidArgumentError, SchemaError, StoreError
from tui_agents.store.migrations import MIGRATIONS, latest_version

__all__ = ["connect", "run", "write", "StoreError", "BUSY_TIMEOUT_S", "schema_version", "data_version"]

T = TypeVar("T")
BUSY_TIMEOUT_S = 15.0
AUTOCHECKPOINT_PAGES = 16384  # 64 MiB of 4 KiB pages: only if background checkpoints cannot keep up
CHECKPOINT_BYTES = 4 << 20
CHECKPOINT_EVERY_S = 1.0
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


async def connect(path: str | os.PathLike[str] = ":memory:") -> aiosqlite.Connection:
    """Open (creating if needed) and migrate the database at ``path``; ``":memory:"`` works."""
    target = str(path)
    if target != ":memory:" and not target.startswith("file:"):
        await asyncio.to_thread(_prepare_private_file, Path(target))
    pending = aiosqlite.connect(target, isolation_level=None, timeout=BUSY_TIMEOUT_S,
                                uri=target.startswith("file:"))
    _worker_thread(pending).daemon = True  # set before it starts, when the connection is awaited
    try:
        conn = await pending
    except sqlite3.Error as exc:
        raise StoreError(f"Could not open the database at {target}: {exc}.") from exc
    _open_connections.add(conn)
    conn.row_factory = sqlite3.Row
    try:
        journal = await run(conn, _prepare)
    except BaseException:
        await conn.close()
        raise
    if journal == "wal":
        _checkpointers[conn] = _Checkpointer(target)
    return conn


def _worker_thread(conn: aiosqlite.Connection) -> threading.Thread:
    # aiosqlite before 0.21 made the connection itself the thread; later ones hold it in _thread.
    return getattr(conn, "_thread", conn)  # type: ignore[return-value]


_open_connections: weakref.WeakSet[aiosqlite.Connection] = weakref.WeakSet()


@atexit.register
def _close_at_exit() -> None:
    """Close connections a program left open, so SQLite ends cleanly before the daemon threads stop."""
    for conn in list(_open_connections):
        thread = _worker_thread(conn)
        if not thread.is_alive():
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # stop() asks for an event loop, which is gone by now
            conn.stop()
        thread.join(timeout=2.0)


def _prepare_private_file(path: Path) -> None:
    """Create missing folders 0700 and the database file 0600; tighten an existing file to 0600.

    SQLite gives the -wal and -shm files the database file's mode, so they follow.
    The file holds every chat and remembered fact: other local users must not read it.
    """
    try:
        _make_private_dirs(path.parent)
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE))
        for suffix in ("", "-wal", "-shm"):
            _tighten(Path(f"{path}{suffix}"))
    except OSError as exc:
        raise StoreError(f"Could not open the database at {path}: {exc.strerror or exc}.") from exc


def _make_private_dirs(folder: Path) -> None:
    missing: list[Path] = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        created.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)


def _tighten(path: Path) -> None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    owned = not hasattr(os, "getuid") or info.st_uid == os.getuid()
    if info.st_mode & 0o077 and owned and path.is_file():
        path.chmod(PRIVATE_FILE_MODE)


class _Checkpointer:
    """Runs PASSIVE WAL checkpoints for one database on a separate connection, in a worker thread."""

    def __init__(self, path: str) -> None:
        self.wal = path + "-wal"
        self.path = path
        self.task: asyncio.Future[None] | None = None
        self.last = 0.0

    def after_write(self) -> None:
        """Start a checkpoint if the WAL is big, none is running and none ran in the last second."""
        if (self.task is not None and not self.task.done()) or time.monotonic() - self.last < CHECKPOINT_EVERY_S:
            return
        try:
            if os.stat(self.wal).st_size < CHECKPOINT_BYTES:
                return
        except OSError:
            return
        self.last = time.monotonic()
        self.task = asyncio.ensure_future(asyncio.to_thread(self._checkpoint))

    def _checkpoint(self) -> None:
        try:
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)
            try:
                db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            finally:
                db.close()
        except sqlite3.Error:
            pass  # a later write tries again; the automatic checkpoint is the safety net


_checkpointers: weakref.WeakKeyDictionary[aiosqlite.Connection, _Checkpointer] = weakref.WeakKeyDictionary()


def schema_version(db: sqlite3.Connection) -> int:
    """The file's ``PRAGMA user_version``."""
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def data_version(db: sqlite3.Connection) -> int:
    """``PRAGMA data_version``: it changes for this connection once another connection has committed."""
    return int(db.execute("PRAGMA data_version").fetchone()[0])


def _prepare(db: sqlite3.Connection) -> str:
    """Refuse a newer schema untouched, then set pragmas and run pending migrations; returns the journal mode."""
    db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    _refuse_newer(schema_version(db))
    journal = db.execute("PRAGMA journal_mode").fetchone()[0].lower()
    if journal not in ("wal", "memory"):
        journal = db.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower()
    db.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}")
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA temp_store = MEMORY")
    db.execute("PRAGMA cache_size = -32768")  # 32 MiB: keeps hot FTS pages of a big history
    if schema_version(db) < latest_version():
        _migrate(db)
    return journal


def _refuse_newer(version: int) -> None:
    if version > latest_version():
        raise SchemaError(
            f"This database uses schema version {version} but this version of aiagents-tui "
            f"only knows up to {latest_version()}; upgrade aiagents-tui to open it."
        )


def _migrate(db: sqlite3.Connection) -> None:
    """Apply each pending migration in its own transaction, bumping user_version with it."""
    for number, (name, fn) in enumerate(MIGRATIONS, start=1):
        db.execute("BEGIN IMMEDIATE")
        try:
            current = schema_version(db)  # another process may have migrated meanwhile
            _refuse_newer(current)
            if current >= number:
                db.execute("COMMIT")
                continue
            if current != number - 1:
                raise SchemaError(f"Database schema version {current} cannot be migrated by step {name}.")
            fn(db)
            db.execute(f"PRAGMA user_version = {number}")
            db.execute("COMMIT")
        except BaseException as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise SchemaError(f"Migration {name} failed and was rolled back: {exc}.") from exc
            raise


async def run(conn: aiosqlite.Connection, fn: Callable[..., T], *args: object) -> T:
    """Run ``fn(db, *args)`` on the connection's worker thread as one uninterrupted step."""
    # aiosqlite queues callables to its one thread through _execute; using it lets a
    # whole store operation run without other coroutines' statements in between.
    try:
        return await conn._execute(fn, conn._conn, *args)
    except AgentError:
        raise
    except sqlite3.IntegrityError as exc:
        raise InvalidArgumentError(f"The change conflicts with stored data: {exc}.") from exc
    except sqlite3.Error as exc:
        raise StoreError(f"The database operation failed: {exc}.") from exc
    except UnicodeEncodeError as exc:  # half a surrogate pair: not UTF-8, so SQLite cannot take it
        raise InvalidArgumentError("The text holds a broken character (half a surrogate pair); "
                                   "remove it and try again.") from exc


def transaction(db: sqlite3.Connection, fn: Callable[..., T], *args: object) -> T:
    """Run ``fn(db, *args)`` in a write transaction (a savepoint if one is already open)."""
    if db.in_transaction:
        db.execute("SAVEPOINT store_write")
        try:
            result = fn(db, *args)
        except BaseException:
            db.execute("ROLLBACK TO store_write")
            db.execute("RELEASE store_write")
            raise
        db.execute("RELEASE store_write")
        return result
    db.execute("BEGIN IMMEDIATE")
    try:
        result = fn(db, *args)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return result


async def write(conn: aiosqlite.Connection, fn: Callable[..., T], *args: object) -> T:
    """Run ``fn(db, *args)`` in one write transaction on the worker thread."""
    result = await run(conn, transaction, fn, *args)
    checkpointer = _checkpointers.get(conn)
    if checkpointer is not None:
        checkpointer.after_write()
    return result
