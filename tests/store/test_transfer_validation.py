"""Import refuses out-of-range, mistyped and too deeply nested files with one plain line, writing nothing;
export writes through symlinks, keeps modes, refuses devices, and reports a full disk plainly."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.data.builders import tool_thread
from tui_agents import datacli
from tui_agents.errors import InvalidArgumentError
from tui_agents.store import MessageStore, ThreadStore, connect
from tui_agents.store.transfer import export_thread, import_data, import_file

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def conn(tmp_path):
    c = await connect(tmp_path / "t.db")
    yield c
    await c.close()


@pytest.fixture
async def exported(conn):
    return await export_thread(conn, (await tool_thread(conn))["thread"]["id"])


async def thread_count(conn) -> int:
    return len(await ThreadStore(conn).list(include_archived=True, limit=1000))


def nested(depth: int) -> dict:
    root = node = {}
    for _ in range(depth - 1):
        node["a"] = {}
        node = node["a"]
    return root


BAD_FIELDS = [
    (("messages", 0, "created_at"), float("inf"), "messages.0.created_at"),
    (("messages", 0, "created_at"), 1e300, "messages.0.created_at"),
    (("messages", 0, "updated_at"), -1e18, "messages.0.updated_at"),
    (("thread", "created_at"), "2024-01-01", "thread.created_at"),
    (("thread", "archived_at"), float("nan"), "thread.archived_at"),
    (("messages", 0, "position"), 2**63, "messages.0.position"),
    (("messages", 0, "position"), -1, "messages.0.position"),
    (("messages", 0, "position"), 1.0, "messages.0.position"),
    (("messages", 0, "position"), "1", "messages.0.position"),
    (("messages", 0, "token_count"), 2**70, "messages.0.token_count"),
    (("messages", 0, "usage"), {"input_tokens": -5}, "messages.0.usage.input_tokens"),
    (("messages", 0, "content"), 42, "messages.0.content"),
    (("messages", 0, "role"), "wizard", "messages.0.role"),
    (("messages", 0, "meta"), {"duration_ms": float("inf")}, "messages.0.meta.duration_ms"),
    (("exported_at"), True, "exported_at"),
    (("messages", 0, "meta"), nested(900), "messages.0.meta"),
]


def put(doc: dict, path, value) -> dict:
    doc = json.loads(json.dumps(doc))
    path = (path,) if isinstance(path, str) else path
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


@pytest.mark.parametrize(("path", "value", "field"), BAD_FIELDS, ids=[f[2] + "=" + repr(f[1])[:12] for f in BAD_FIELDS])
async def test_an_out_of_range_or_mistyped_field_is_named_and_nothing_is_written(conn, exported, path, value, field):
    before = await thread_count(conn)
    doc = put(exported, path, value)
    doc["thread"]["id"] = "thr_new"  # so that a wrongly accepted file would be written as a new thread

    with pytest.raises(InvalidArgumentError) as caught:
        await import_data(conn, doc)

    message = str(caught.value)
    assert field in message and "\n" not in message
    assert await thread_count(conn) == before


async def test_a_valid_export_still_imports(conn, exported):
    report = await import_data(conn, put(exported, ("thread", "id"), "thr_copy"))
    assert report.thread_ids


async def test_chatgpt_times_out_of_range_are_refused(conn):
    conversation = {"title": "x", "create_time": 1e300, "current_node": "n", "mapping": {"n": {
        "message": {"author": {"role": "user"}, "content": {"parts": ["hi"]}}}}}
    with pytest.raises(InvalidArgumentError, match="create_time"):
        await import_data(conn, [conversation])
    assert await thread_count(conn) == 0


async def test_nan_and_infinity_literals_in_a_file_are_not_json(conn, exported, tmp_path):
    text = json.dumps(exported).replace(f'"created_at": {exported["messages"][0]["created_at"]}', '"created_at": NaN', 1)
    assert "NaN" in text
    path = tmp_path / "nan.json"
    path.write_text(text)
    with pytest.raises(InvalidArgumentError, match="NaN is not a JSON number"):
        await import_file(conn, path)


async def test_a_100000_deep_file_is_one_plain_error_and_nothing_is_written(conn, tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    before = await thread_count(conn)
    with pytest.raises(InvalidArgumentError, match="nested too deeply"):
        await import_file(conn, path)
    assert await thread_count(conn) == before


def test_the_cli_import_of_a_deep_file_prints_one_line_and_fails(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"a":' * 100_000 + "1" + "}" * 100_000)
    done = run_cli(["--db", str(tmp_path / "cli.db"), "import", str(path)])
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "nested too deeply" in done.stderr and "Traceback" not in done.stderr


async def test_saving_metadata_nested_900_deep_is_a_clear_error_and_shallow_is_fine(conn):
    thread = await ThreadStore(conn).create(None)
    messages = MessageStore(conn)
    with pytest.raises(InvalidArgumentError, match="nested more than 100 levels"):
        await messages.add(thread["id"], "user", "hi", meta=nested(900))
    saved = await messages.add(thread["id"], "user", "hi", meta=nested(50))
    assert (await messages.get(saved["id"]))["meta"] == nested(50)
    assert await messages.count(thread["id"]) == 1


# --- export -o ---


def run_cli(argv: list[str], **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tui_agents.cli", *argv], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)}, **kw)


@pytest.fixture
def seeded(tmp_path) -> tuple[Path, str]:
    db = tmp_path / "cli.db"

    async def seed() -> str:
        c = await connect(db)
        try:
            return (await tool_thread(c))["thread"]["id"]
        finally:
            await c.close()

    return db, asyncio.run(seed())


def test_export_writes_through_a_symlink_and_keeps_the_files_mode(tmp_path, seeded):
    db, thread_id = seeded
    real = tmp_path / "real.json"
    real.write_text("old")
    real.chmod(0o644)
    link = tmp_path / "link.json"
    link.symlink_to(real)

    assert datacli.main(["--db", str(db), "export", thread_id, "-o", str(link)]) == 0

    assert link.is_symlink() and json.loads(real.read_text())["thread"]["id"] == thread_id
    assert stat.S_IMODE(real.stat().st_mode) == 0o644


def test_a_new_export_file_is_0600(tmp_path, seeded):
    db, thread_id = seeded
    target = tmp_path / "new.json"
    assert datacli.main(["--db", str(db), "export", thread_id, "-o", str(target)]) == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


@pytest.mark.parametrize("kind", ["fifo", "device", "folder", "loop"])
def test_export_refuses_a_target_that_is_not_a_regular_file(tmp_path, seeded, capsys, kind):
    db, thread_id = seeded
    if kind == "fifo":
        target = tmp_path / "pipe"
        os.mkfifo(target)
    elif kind == "device":
        target = Path("/dev/null")
    elif kind == "folder":
        target = tmp_path / "dir"
        target.mkdir()
    else:
        target = tmp_path / "loop"
        target.symlink_to(tmp_path / "loop2")
        (tmp_path / "loop2").symlink_to(target)

    assert datacli.main(["--db", str(db), "export", thread_id, "-o", str(target)]) == 1

    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(target) in err
    if kind == "fifo":
        assert stat.S_ISFIFO(target.lstat().st_mode)  # still a FIFO, not replaced by a file
    if kind == "device":
        assert stat.S_ISCHR(target.stat().st_mode)


def test_export_to_dash_writes_stdout(seeded, capsys):
    db, thread_id = seeded
    assert datacli.main(["--db", str(db), "export", thread_id, "-o", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["thread"]["id"] == thread_id


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_export_to_stdout_on_a_full_disk_is_one_line_and_fails(seeded):
    db, thread_id = seeded
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "tui_agents.cli", "--db", str(db), "export", thread_id],
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=60,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 1
    assert done.stderr == "aiagents-tui: could not write the export: No space left on device.\n"


@pytest.mark.parametrize("kind", ["fifo", "folder"])
async def test_importing_a_fifo_or_folder_is_refused_without_reading_it(conn, tmp_path, kind):
    target = tmp_path / "thing"
    os.mkfifo(target) if kind == "fifo" else target.mkdir()
    # A FIFO with no writer would block a read forever; the bound turns that into a failure.
    with pytest.raises(InvalidArgumentError, match="not a regular file" if kind == "fifo" else "a folder"):
        await asyncio.wait_for(import_file(conn, target), 10)
