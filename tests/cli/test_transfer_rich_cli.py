"""``aiagents-tui export`` / ``import`` as a user runs them (a real subprocess, real SQLite files):
alternatives, thinking and images survive a round trip; Markdown puts images beside the file or lists them."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.store.test_transfer_rich import CAT, rich_thread
from tui_agents.store import MessageStore, connect
from tui_agents.store.images import ImageStore

ROOT = Path(__file__).resolve().parents[2]


def aiagents(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """Run ``python -m tui_agents.cli`` with a private config, no API keys."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k != "AIAGENTS_DB"}
    env.update({"PYTHONPATH": str(ROOT), "AIAGENTS_CONFIG": str(tmp_path / "config.toml")})
    return subprocess.run([sys.executable, "-m", "tui_agents.cli", *args], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=60)


async def _seed(db: Path) -> dict:
    conn = await connect(db)
    try:
        return await rich_thread(conn)
    finally:
        await conn.close()


async def _state(db: Path, thread_id: str) -> tuple:
    conn = await connect(db)
    try:
        messages = MessageStore(conn)
        return (await messages.list(thread_id), await messages.alternative_slots(thread_id),
                await ImageStore(conn).stats())
    finally:
        await conn.close()


def test_json_export_then_import_into_a_fresh_database_keeps_everything(tmp_path):
    db, fresh = tmp_path / "chat.db", tmp_path / "fresh.db"
    built = asyncio.run(_seed(db))
    tid = built["thread_id"]

    done = aiagents(tmp_path, "--db", str(db), "export", tid, "-o", "thread.json")
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "thread.json").read_text())["version"] == 2

    done = aiagents(tmp_path, "--db", str(fresh), "import", "thread.json")
    assert done.returncode == 0, done.stderr
    assert tid in done.stdout
    assert asyncio.run(_state(fresh, tid)) == asyncio.run(_state(db, tid))
    assert asyncio.run(_state(fresh, tid))[2] == {"count": 1, "bytes": len(CAT)}


def test_a_tampered_image_is_one_line_on_stderr_and_imports_nothing(tmp_path):
    db = tmp_path / "chat.db"
    tid = asyncio.run(_seed(db))["thread_id"]
    assert aiagents(tmp_path, "--db", str(db), "export", tid, "-o", "thread.json").returncode == 0
    doc = json.loads((tmp_path / "thread.json").read_text())
    doc["images"][0]["data"] = doc["images"][0]["data"][:-8] + "AAAAAAA="
    (tmp_path / "bad.json").write_text(json.dumps(doc))

    done = aiagents(tmp_path, "--db", str(tmp_path / "fresh.db"), "import", "bad.json")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "images.0.sha256: does not match" in done.stderr
    assert "Traceback" not in done.stderr
    listed = aiagents(tmp_path, "--db", str(tmp_path / "fresh.db"), "threads")
    assert "No threads" in listed.stdout


def test_markdown_to_a_file_writes_images_beside_it_and_to_stdout_lists_them(tmp_path):
    db = tmp_path / "chat.db"
    built = asyncio.run(_seed(db))
    tid = built["thread_id"]

    done = aiagents(tmp_path, "--db", str(db), "export", tid, "-o", "notes/colours.md")
    assert done.returncode == 0, done.stderr
    image = tmp_path / "notes" / "colours_files" / f"{built['sha'][:16]}.png"
    assert image.read_bytes() == CAT
    assert f"](colours_files/{image.name})" in (tmp_path / "notes" / "colours.md").read_text()

    done = aiagents(tmp_path, "--db", str(db), "export", tid, "-f", "md", "-o", "-")
    assert done.returncode == 0, done.stderr
    assert f"- Image: cat [1].png (image/png, {len(CAT)} B)" in done.stdout
    assert "(alternative 2 of 3)" in done.stdout and "<details><summary>Thinking" in done.stdout
    assert list(tmp_path.rglob("*_files")) == [tmp_path / "notes" / "colours_files"]  # nothing beside stdout
