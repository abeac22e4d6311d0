"""Export and import: our JSON round trip, ChatGPT conversations.json, malformed files change nothing."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.data.builders import USER, tool_thread
from tui_agents import datacli
from tui_agents.errors import InvalidArgumentError
from tui_agents.store.transfer import export_thread, import_data, import_file, to_json, to_markdown
from tui_agents.store import Auth, MessageStore, ThreadStore, connect

DATA = Path(__file__).resolve().parents[1] / "data"
CHATGPT = DATA / "chatgpt" / "conversations.json"


@pytest.fixture
async def conn(tmp_path):
    conn = await connect(tmp_path / "a.db")
    yield conn
    await conn.close()


def _without(doc: dict, *keys: str) -> dict:
    return {k: v for k, v in doc.items() if k not in keys}


def _strip_ids(doc: dict) -> dict:
    """The document with thread and message ids blanked, for comparing an import with new ids."""
    doc = json.loads(json.dumps(_without(doc, "exported_at", "lineage")))
    doc["thread"]["id"] = None
    for message in doc["messages"]:
        message["id"] = None
    return doc


def _row_counts(path: Path) -> dict[str, int]:
    db = sqlite3.connect(path)
    try:
        return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("agents", "threads", "messages", "contents", "grants")}
    finally:
        db.close()


async def test_json_round_trip_into_a_fresh_database_keeps_everything(conn, tmp_path):
    built = await tool_thread(conn)
    doc = await export_thread(conn, built["thread"]["id"])
    assert [m["role"] for m in doc["messages"]] == ["user", "assistant", "tool", "tool", "assistant"]
    assert doc["messages"][0]["guardrail"]["action"] == "warned"
    assert doc["messages"][1]["tool_calls"][1]["name"] == "weather"
    assert doc["messages"][3]["meta"]["status"] == "timeout"
    assert doc["messages"][4]["status"] == "interrupted"
    assert doc["agent"]["name"] == "helper"

    other = await connect(tmp_path / "b.db")
    try:
        report = await import_data(other, json.loads(to_json(doc)), user_id=USER)
        assert report.kept_ids and report.thread_ids == [built["thread"]["id"]]
        again = await export_thread(other, report.thread_ids[0])
        assert _without(again, "exported_at") == _without(doc, "exported_at")
        # The importing user owns the thread, so the app may continue it.
        assert await Auth(other).check(USER, "write", "thread", report.thread_ids[0])
    finally:
        await other.close()


async def test_json_import_into_the_same_database_gets_new_ids_and_equal_content(conn):
    built = await tool_thread(conn)
    doc = await export_thread(conn, built["thread"]["id"])
    report = await import_data(conn, json.loads(to_json(doc)), user_id=USER)
    assert not report.kept_ids and report.thread_ids[0] != built["thread"]["id"]
    copy = await export_thread(conn, report.thread_ids[0])
    assert _strip_ids(copy) == _strip_ids(doc)
    # The tool call ids still pair calls with results in the copy.
    messages = await MessageStore(conn).list(report.thread_ids[0])
    assert {m["tool_call_id"] for m in messages if m["role"] == "tool"} == {"call_1", "call_2"}


async def test_markdown_export_reads_as_a_transcript(conn):
    built = await tool_thread(conn)
    text = to_markdown(await export_thread(conn, built["thread"]["id"]))
    assert text.startswith("# Tools at work\n")
    assert "**Guardrail warned**: asks to ignore rules" in text
    assert "**Tool call** `calculator` (`call_1`)" in text
    assert "## Tool result: weather" in text and "timeout" in text
    assert "status: interrupted" in text


async def test_chatgpt_import_follows_the_path_to_current_node(conn):
    report = await import_file(conn, CHATGPT, user_id=USER)
    assert len(report.thread_ids) == 2
    threads = ThreadStore(conn)
    first = await threads.get(report.thread_ids[0])
    assert first["title"] == "Sourdough starter help"
    assert first["created_at"] == pytest.approx(1700000000.123456)
    messages = await MessageStore(conn).list(first["id"])
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[1]["content"].startswith("No: it is hungry")  # not the regenerated-away answer
    assert messages[1]["model"] == "gpt-4o"
    assert "[1 attachment not imported]" in messages[2]["content"]
    # The code step and the hidden tool output between two assistant nodes are joined into one reply.
    assert messages[3]["content"] == "ratio(1, 1, 1)\n\nUse 1:1:1 starter, flour and water by weight."
    second = await MessageStore(conn).list(report.thread_ids[1])
    assert second[0]["content"] == "Write a haiku about [bold]terminals[/bold]."  # stored unchanged


@pytest.mark.parametrize("payload, cause", [
    ("{not json", "not valid JSON"),
    ('{"format": "aiagents-tui/thread", "version": 1}', "exported_at"),
    ('[{"title": "x", "mapping": {"r": {"parent": "missing", "message": null}}, "current_node": "r"}]', "missing"),
    ('[{"title": "x", "mapping": {"a": {"parent": "b"}, "b": {"parent": "a"}}, "current_node": "a"}]', "loop"),
    ('[{"title": "x", "mapping": {}, "current_node": "a"}]', "mapping"),
    ('"just a string"', "neither"),
])
async def test_malformed_files_raise_a_clear_error_and_change_nothing(conn, tmp_path, payload, cause):
    db_path = tmp_path / "a.db"
    await tool_thread(conn)
    before = _row_counts(db_path)
    bad = tmp_path / "bad.json"
    bad.write_text(payload)
    with pytest.raises(InvalidArgumentError, match=cause):
        await import_file(conn, bad, user_id=USER)
    assert _row_counts(db_path) == before


async def test_duplicate_positions_are_refused_before_writing(conn, tmp_path):
    built = await tool_thread(conn)
    doc = await export_thread(conn, built["thread"]["id"])
    doc["messages"][1]["position"] = doc["messages"][0]["position"]
    before = _row_counts(tmp_path / "a.db")
    with pytest.raises(InvalidArgumentError, match="same position"):
        await import_data(conn, doc, user_id=USER)
    assert _row_counts(tmp_path / "a.db") == before


async def test_a_failure_half_way_rolls_back_the_conversations_already_written(conn, tmp_path, monkeypatch):
    """Fault injection: the second conversation's insert fails after the first was written."""
    from tui_agents.store.transfer import importer as export

    real, calls = export._insert_thread, []

    def failing(db, *args):
        calls.append(args)
        if len(calls) == 2:
            raise sqlite3.IntegrityError("simulated failure")
        return real(db, *args)

    monkeypatch.setattr(export, "_insert_thread", failing)
    before = _row_counts(tmp_path / "a.db")
    with pytest.raises(InvalidArgumentError, match="simulated failure"):
        await import_file(conn, CHATGPT, user_id=USER)
    assert len(calls) == 2
    assert _row_counts(tmp_path / "a.db") == before


async def test_odd_chatgpt_timestamps_are_tolerated(conn):
    data = json.loads(CHATGPT.read_text())
    data.append({"title": "", "mapping": {"x": {"parent": None, "message": {
        "author": {"role": "user"}, "content": {"parts": ["hi"]}, "create_time": "not a time"}}},
        "current_node": "x"})
    report = await import_data(conn, data, user_id=USER)
    assert len(report.thread_ids) == 3
    third = await ThreadStore(conn).get(report.thread_ids[2])
    assert third["title"] == "Imported ChatGPT conversation"


def test_cli_export_and_import_round_trip(tmp_path, capsys):
    import asyncio

    db = tmp_path / "cli.db"

    async def seed() -> str:
        c = await connect(db)
        try:
            return (await tool_thread(c))["thread"]["id"]
        finally:
            await c.close()

    thread_id = asyncio.run(seed())
    out_json = tmp_path / "out" / "thread.json"
    assert datacli.main(["--db", str(db), "export", thread_id, "-o", str(out_json)]) == 0
    assert json.loads(out_json.read_text())["thread"]["id"] == thread_id
    assert datacli.main(["export", thread_id, "--format", "md", "--db", str(db)]) == 0
    assert "# Tools at work" in capsys.readouterr().out

    fresh = tmp_path / "fresh.db"
    assert datacli.main(["--db", str(fresh), "import", str(out_json)]) == 0
    assert thread_id in capsys.readouterr().out
    assert datacli.main(["--db", str(fresh), "import", str(tmp_path / "missing.json")]) == 1
    assert "Could not read" in capsys.readouterr().err


def test_cli_import_of_chatgpt_sample_uses_env_database(tmp_path, monkeypatch, capsys):
    db = tmp_path / "env.db"
    monkeypatch.setenv("AIAGENTS_DB", str(db))
    sample = tmp_path / "conversations.json"
    shutil.copy(CHATGPT, sample)
    assert datacli.main(["import", str(sample)]) == 0
    assert "Imported 2 thread(s)" in capsys.readouterr().out
    assert _row_counts(db)["threads"] == 2


async def test_imported_threads_behave_like_native_ones(conn):
    """Import writes rows itself (one transaction): fork, search, append and delete must still work."""
    report = await import_file(conn, CHATGPT, user_id=USER)
    imported = report.thread_ids[1]
    threads, messages = ThreadStore(conn), MessageStore(conn)
    hits = await threads.search("haiku terminals", user_id=USER)
    assert imported in {h["thread_id"] for h in hits}
    fork = await threads.fork(imported, title="copy")
    added = await messages.add(imported, "user", "one more")
    assert added["position"] == 3
    await threads.delete(imported)
    copied = await messages.list(fork["id"])
    assert [m["content"][:10] for m in copied] == ["Write a ha", "Green curs"]
