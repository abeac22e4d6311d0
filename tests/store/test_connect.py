"""connect(): pragmas, migrations on an empty file, idempotent re-open, refusing a newer schema."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest

from tui_agents.errors import SchemaError
from tui_agents.store import ThreadStore, connect
from tui_agents.store.migrations import MIGRATIONS, latest_version


def _user_version(path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("PRAGMA user_version").fetchone()[0]


async def test_empty_file_is_migrated_to_latest_with_wal_and_foreign_keys(db_path):
    conn = await connect(db_path)
    try:
        assert (await (await conn.execute("PRAGMA journal_mode")).fetchone())[0] == "wal"
        assert (await (await conn.execute("PRAGMA foreign_keys")).fetchone())[0] == 1
        assert (await (await conn.execute("PRAGMA busy_timeout")).fetchone())[0] >= 1000
        tables = {r[0] for r in await conn.execute_fetchall("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"agents", "threads", "messages", "contents", "user_memory", "documents", "grants"} <= tables
    finally:
        await conn.close()
    assert _user_version(db_path) == latest_version() == len(MIGRATIONS)


async def test_reopen_is_idempotent_and_keeps_data(db_path):
    conn = await connect(db_path)
    thread = await ThreadStore(conn).create(agent_id=None, title="keep me")
    await conn.close()
    conn = await connect(db_path)
    try:
        assert (await ThreadStore(conn).get(thread["id"]))["title"] == "keep me"
    finally:
        await conn.close()
    assert _user_version(db_path) == latest_version()


async def test_memory_database_works():
    conn = await connect(":memory:")
    try:
        thread = await ThreadStore(conn).create(agent_id=None)
        assert (await ThreadStore(conn).get(thread["id"]))["id"] == thread["id"]
    finally:
        await conn.close()


async def test_parent_directory_is_created(tmp_path):
    conn = await connect(tmp_path / "a" / "b" / "store.db")
    await conn.close()
    assert (tmp_path / "a" / "b" / "store.db").exists()


async def test_newer_schema_is_refused_and_file_left_unchanged(db_path):
    with sqlite3.connect(db_path) as db:
        db.execute("CREATE TABLE future(x)")
        db.execute(f"PRAGMA user_version = {latest_version() + 1}")
    before = hashlib.sha256(db_path.read_bytes()).hexdigest()
    with pytest.raises(SchemaError, match="upgrade"):
        await connect(db_path)
    assert hashlib.sha256(db_path.read_bytes()).hexdigest() == before
    assert _user_version(db_path) == latest_version() + 1
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


async def test_failed_migration_rolls_back_and_version_stays(db_path, monkeypatch):
    def broken(db):
        db.execute("CREATE TABLE half_done(x)")
        db.execute("THIS IS NOT SQL")

    monkeypatch.setattr("tui_agents.store.db.MIGRATIONS", [*MIGRATIONS, ("broken", broken)])
    monkeypatch.setattr("tui_agents.store.db.latest_version", lambda: len(MIGRATIONS) + 1)
    with pytest.raises(SchemaError, match="broken"):
        await connect(db_path)
    assert _user_version(db_path) == len(MIGRATIONS)
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'half_done'").fetchone()[0] == 0


async def test_big_writes_are_checkpointed_in_the_background(db_path):
    import asyncio
    import time

    from tui_agents.store import MessageStore

    conn = await connect(db_path)
    try:
        thread = await ThreadStore(conn).create(agent_id=None)
        messages = MessageStore(conn)
        for i in range(60):
            await messages.add(thread["id"], "user", f"{i} " + "x" * 100_000)
        deadline = time.monotonic() + 60
        while db_path.stat().st_size < 4 << 20:  # pages reach the main file only through a checkpoint
            assert time.monotonic() < deadline, "no checkpoint ran"
            await messages.add(thread["id"], "user", "nudge")
            await asyncio.sleep(0.2)
    finally:
        await conn.close()
