"""The database, its WAL/SHM files and the folders made for it are private to the user."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tui_agents.config import AppConfig, save_config
from tui_agents.errors import StoreError
from tui_agents.store import AgentStore, connect

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def _usual_umask():
    old = os.umask(0o022)  # what a desktop session usually has: files 0644, folders 0755 by default
    yield
    os.umask(old)


async def test_new_folders_are_0700_and_the_database_and_its_wal_and_shm_are_0600(tmp_path):
    db_path = tmp_path / "data" / "aiagents-tui" / "aiagents.db"
    conn = await connect(db_path)
    try:
        await AgentStore(conn).create(name="a", system_prompt="p")  # a write: the WAL and SHM exist now
        for suffix in ("", "-wal", "-shm"):
            assert mode(Path(f"{db_path}{suffix}")) == 0o600, suffix
    finally:
        await conn.close()
    assert mode(tmp_path / "data") == 0o700
    assert mode(tmp_path / "data" / "aiagents-tui") == 0o700


async def test_an_existing_world_readable_database_is_tightened(tmp_path):
    db_path = tmp_path / "old.db"
    conn = await connect(db_path)
    await conn.close()
    db_path.chmod(0o644)  # as earlier versions left it

    conn = await connect(db_path)
    try:
        await AgentStore(conn).create(name="a", system_prompt="p")
        assert [mode(Path(f"{db_path}{s}")) for s in ("", "-wal", "-shm")] == [0o600] * 3
    finally:
        await conn.close()


async def test_an_existing_folder_given_by_the_user_keeps_its_mode(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    conn = await connect(shared / "x.db")
    await conn.close()
    assert mode(shared) == 0o755 and mode(shared / "x.db") == 0o600


async def test_a_database_whose_parent_is_a_file_is_a_plain_store_error(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(StoreError, match="Could not open the database"):
        await connect(tmp_path / "file" / "x.db")


def test_the_config_file_is_0600(tmp_path):
    path = save_config(AppConfig(default_model="m"), tmp_path / "cfg" / "config.toml")
    assert mode(path) == 0o600
