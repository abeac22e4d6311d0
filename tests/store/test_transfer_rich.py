"""Export and import keep reply alternatives, thinking, signed thinking blocks and images exactly;
a bad image, block or alternative is refused with one plain line naming the field, and nothing is written."""

from __future__ import annotations

import base64
import copy
import hashlib
import io
import json
import os
import sqlite3
from pathlib import Path

import pytest
from PIL import Image as PILImage

from tests.data.builders import tool_thread
from tui_agents.errors import InvalidArgumentError
from tui_agents.images import load_image
from tui_agents.store import AgentStore, MessageStore, ThreadStore, connect
from tui_agents.store.images import ImageStore
from tui_agents.store.transfer import (
    EXPORT_VERSION, export_thread, export_thread_file, export_thread_text, import_data, import_file, to_json,
)

BLOCKS = [{"type": "thinking", "thinking": "The user wants a colour. Ünïcode ✓.", "signature": "EqQBCkgIARABGAIi+/=="},
          {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP"}]


def png(colour: tuple[int, int, int], size: tuple[int, int] = (3, 2)) -> bytes:
    """A real PNG made by Pillow."""
    out = io.BytesIO()
    PILImage.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


CAT = png((200, 120, 40))


async def rich_thread(conn) -> dict:
    """Two user turns showing one image; the first reply regenerated twice (the 2nd of 3 chosen), with thinking."""
    agent = await AgentStore(conn).create("helper", "You help.")
    thread = await ThreadStore(conn).create(agent["id"], title="Colours", user_id="local")
    tid, messages = thread["id"], MessageStore(conn)
    image = load_image(CAT, name="cat [1].png")
    await messages.add(tid, "user", "What colour is this cat?", images=[image])
    first = await messages.add(tid, "assistant", "Orange.", thinking="Looks orange.", thinking_blocks=BLOCKS,
                               model="claude", meta={"thinking_ms": 2400.0})
    begun = await messages.begin_alternative(tid)
    await messages.add(tid, "assistant", "Ginger, I think.", thinking="Hmm </details> ginger.",
                       meta={"thinking_ms": 12000.0})
    await messages.end_alternative(begun)
    begun = await messages.begin_alternative(tid)  # a tool loop: three rows make one alternative
    await messages.add(tid, "assistant", "", tool_calls=[{"id": "c1", "name": "colour", "arguments": {}}])
    await messages.add(tid, "tool", "#c87828", tool_call_id="c1")
    await messages.add(tid, "assistant", "It is #c87828.")
    await messages.end_alternative(begun)
    await messages.select_alternative(first["id"], 1)
    await messages.add(tid, "user", "And this one, again?", images=[image])
    await messages.add(tid, "assistant", "Same cat.", thinking="Same bytes.")
    return {"thread_id": tid, "first": first, "sha": image.sha256}


def raw(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as c:
        return c.execute(sql).fetchall()


def counts(db: Path) -> dict[str, int]:
    return {t: raw(db, f"SELECT count(*) FROM {t}")[0][0] for t in ("threads", "messages", "contents", "images")}


@pytest.fixture
async def source(tmp_path):
    conn = await connect(tmp_path / "source.db")
    built = await rich_thread(conn)
    yield conn, built
    await conn.close()


async def test_round_trip_into_a_fresh_database_keeps_everything(source, tmp_path):
    conn, built = source
    tid = built["thread_id"]
    doc = await export_thread(conn, tid)
    assert doc["version"] == EXPORT_VERSION == 2
    assert len(doc["images"]) == 1 and base64.b64decode(doc["images"][0]["data"]) == CAT  # once, though shown twice
    assert [m["alternative"] and m["alternative"]["index"] for m in doc["messages"]] == [None, 0, 1, 2, 2, 2, None, None]
    path = tmp_path / "thread.json"
    path.write_text(to_json(doc))

    fresh_db = tmp_path / "fresh.db"
    fresh = await connect(fresh_db)
    try:
        report = await import_file(fresh, path)
        assert report.thread_ids == [tid] and report.kept_ids
        old, new = MessageStore(conn), MessageStore(fresh)
        assert await new.list(tid) == await old.list(tid)
        assert [m["content"] for m in await new.list(tid)] == [
            "What colour is this cat?", "Ginger, I think.", "And this one, again?", "Same cat."]
        assert await new.alternative_slots(tid) == await old.alternative_slots(tid)
        assert (await new.alternatives(built["first"]["id"]))["count"] == 3
        assert (await new.get(built["first"]["id"]))["thinking_blocks"] == BLOCKS
        assert (await ImageStore(fresh).get(built["sha"])).data == CAT
        assert await ImageStore(fresh).stats() == {"count": 1, "bytes": len(CAT)}
        again = await export_thread(fresh, tid)
        assert {**again, "exported_at": 0} == {**doc, "exported_at": 0}
    finally:
        await fresh.close()
    # the signed blocks are stored byte for byte as they were
    sql = "SELECT thinking_blocks FROM contents WHERE thinking_blocks IS NOT NULL"
    assert raw(fresh_db, sql) == raw(tmp_path / "source.db", sql)
    # choosing another alternative after import works as before
    fresh = await connect(fresh_db)
    try:
        await MessageStore(fresh).select_alternative(built["first"]["id"], 2)
        assert (await MessageStore(fresh).list(tid))[1]["tool_calls"][0]["name"] == "colour"
    finally:
        await fresh.close()


async def test_import_into_the_same_database_gets_new_ids_and_shares_the_stored_image(source, tmp_path):
    conn, built = source
    doc = await export_thread(conn, built["thread_id"])
    report = await import_data(conn, json.loads(to_json(doc)))
    assert not report.kept_ids
    copy_id = report.thread_ids[0]
    messages = MessageStore(conn)
    shown = await messages.list(copy_id)
    assert [m["content"] for m in shown] == [m["content"] for m in await messages.list(built["thread_id"])]
    slots = await messages.alternative_slots(copy_id)
    assert [(s["index"], s["count"]) for s in slots.values()] == [(1, 3)]
    assert await ImageStore(conn).stats() == {"count": 1, "bytes": len(CAT)}


def _set(doc: dict, path: tuple, value) -> dict:
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


OTHER_PNG = png((1, 2, 3))
JPEG_NAMED_PNG = "image/jpeg"

REJECTED = [
    (("version",), 3, "version: Input should be 1 or 2"),
    (("images", 0, "data"), "not base64 at all!", "images.0.data: is not valid base64"),
    (("images", 0, "data"), base64.b64encode(OTHER_PNG).decode(), "images.0.sha256: does not match"),
    (("images", 0, "media_type"), "image/tiff", "images.0.media_type"),
    (("images", 0, "media_type"), "image/jpeg", "images.0.media_type: is image/jpeg but the bytes are image/png"),
    (("images", 0, "sha256"), "A" * 64, "images.0.sha256"),
    (("messages", 0, "images", 0, "sha256"), hashlib.sha256(b"x").hexdigest(),
     "messages.0.images.0.sha256: names an image that is not in the file"),
    (("messages", 0, "images", 0, "bytes"), 5, "messages.0.images.0.bytes"),
    (("messages", 0, "images", 0, "media_type"), "image/bmp", "messages.0.images.0.media_type"),
    (("messages", 1, "thinking_blocks", 0, "type"), "text",
     "messages.1.thinking_blocks.0: a thinking block's type must be 'thinking' or 'redacted_thinking', not 'text'"),
    (("messages", 1, "thinking_blocks", 0, "signature"), 7, "messages.1.thinking_blocks.0: a thinking block needs"),
    (("messages", 1, "thinking_blocks", 1), "redacted", "messages.1.thinking_blocks.1"),
    (("messages", 1, "thinking"), ["not", "text"], "messages.1.thinking"),
    (("messages", 1, "thinking"), "half \ud83d", "messages.1.thinking: holds a broken character"),
    (("messages", 1, "thinking_blocks", 0, "signature"), "\udc00",
     "messages.1.thinking_blocks.0.signature: holds a broken character"),
    (("messages", 1, "alternative", "chosen"), True, "alternative.chosen: slot 2 must have exactly one chosen"),
    (("messages", 2, "alternative", "index"), 5, "alternative.index: the alternatives of slot 2"),
    (("messages", 2, "alternative", "slot"), 9, "messages.2.alternative.slot"),
    (("messages", 0, "alternative"), {"slot": 1, "index": 0, "chosen": True}, "messages.0.alternative: a user message"),
]


@pytest.mark.parametrize("path, value, cause", REJECTED, ids=[".".join(map(str, r[0])) + "=" + repr(r[1])[:12]
                                                            for r in REJECTED])
async def test_a_bad_field_is_refused_in_one_line_and_nothing_is_written(source, tmp_path, path, value, cause):
    conn, built = source
    doc = _set(json.loads(to_json(await export_thread(conn, built["thread_id"]))), path, value)
    before = counts(tmp_path / "source.db")
    with pytest.raises(InvalidArgumentError) as exc:
        await import_data(conn, doc, where="t.json")
    message = str(exc.value)
    assert cause in message and message.startswith("t.json is not a valid export: ") and "\n" not in message
    assert counts(tmp_path / "source.db") == before


async def test_an_image_listed_twice_is_refused(source, tmp_path):
    conn, built = source
    doc = json.loads(to_json(await export_thread(conn, built["thread_id"])))
    doc["images"].append(copy.deepcopy(doc["images"][0]))
    with pytest.raises(InvalidArgumentError, match="images.1.sha256: lists the same image twice"):
        await import_data(conn, doc)


async def test_an_old_version_1_file_still_imports(tmp_path):
    """What the exporter wrote before version 2: no images, thinking, blocks or alternatives."""
    conn = await connect(tmp_path / "old.db")
    try:
        built = await tool_thread(conn)
        doc = json.loads(to_json(await export_thread(conn, built["thread"]["id"])))
        doc["version"] = 1
        del doc["images"]
        for message in doc["messages"]:
            for key in ("thinking", "thinking_blocks", "images", "alternative"):
                del message[key]
        fresh = await connect(tmp_path / "fresh.db")
        try:
            report = await import_data(fresh, doc)
            assert report.thread_ids == [built["thread"]["id"]]
            assert await MessageStore(fresh).list(report.thread_ids[0]) == \
                await MessageStore(conn).list(built["thread"]["id"])
            assert await MessageStore(fresh).alternative_slots(report.thread_ids[0]) == {}
        finally:
            await fresh.close()
    finally:
        await conn.close()


async def test_markdown_beside_a_file_writes_images_once_and_links_them(source, tmp_path):
    conn, built = source
    target = tmp_path / "out" / "my chat.md"
    written = await export_thread_file(conn, built["thread_id"], target, "md")
    assert written == target.resolve()
    files = list((tmp_path / "out" / "my chat_files").iterdir())
    name = f"{built['sha'][:16]}.png"
    assert [f.name for f in files] == [name] and files[0].read_bytes() == CAT
    text = target.read_text()
    assert text.count(f"![cat  1 .png](my%20chat_files/{name})") == 2
    # only the chosen reply, noted as such; thinking collapsed above it, a "</details>" inside cannot close it
    assert "## Assistant (alternative 2 of 3)" in text and "Ginger, I think." in text
    assert "Orange." not in text and "#c87828" not in text
    thinking = text.index("<details><summary>Thinking (12 s)</summary>")
    assert thinking < text.index("Ginger, I think.")
    assert "Hmm &lt;/details> ginger." in text
    assert "<details><summary>Thinking</summary>\n\nSame bytes.\n\n</details>" in text


async def test_markdown_as_text_lists_images_by_name_and_size(source, tmp_path):
    conn, built = source
    text = await export_thread_text(conn, built["thread_id"], "md")
    assert text.count(f"- Image: cat [1].png (image/png, {len(CAT)} B)") == 2
    assert "](" not in text
    assert not list(tmp_path.rglob("*_files"))  # nothing written beside anything


async def test_markdown_of_signed_blocks_without_text_counts_the_redacted_ones(tmp_path):
    conn = await connect(tmp_path / "b.db")
    try:
        thread = await ThreadStore(conn).create(None, title="blocks")
        await MessageStore(conn).add(thread["id"], "assistant", "Done.", thinking_blocks=BLOCKS)
        text = await export_thread_text(conn, thread["id"], "md")
    finally:
        await conn.close()
    assert BLOCKS[0]["thinking"] in text and "_1 redacted thinking block not shown._" in text
    assert BLOCKS[1]["data"] not in text


async def test_an_export_while_a_reply_is_regenerated_keeps_the_shown_reply_chosen(tmp_path):
    conn = await connect(tmp_path / "r.db")
    try:
        thread = await ThreadStore(conn).create(None, title="busy")
        messages = MessageStore(conn)
        await messages.add(thread["id"], "user", "Name a colour")
        first = await messages.add(thread["id"], "assistant", "Red")
        begun = await messages.begin_alternative(thread["id"])
        await messages.add(thread["id"], "assistant", "Blue")
        await messages.end_alternative(begun)
        await messages.begin_alternative(thread["id"])  # a third reply is being written: Blue is still shown
        doc = await export_thread(conn, thread["id"])
        assert [m["alternative"] for m in doc["messages"]] == [
            None, {"slot": 2, "index": 0, "chosen": False}, {"slot": 2, "index": 1, "chosen": True}]
        fresh = await connect(tmp_path / "fresh.db")
        try:
            await import_data(fresh, json.loads(to_json(doc)))
            assert [m["content"] for m in await MessageStore(fresh).list(thread["id"])] == ["Name a colour", "Blue"]
            assert (await MessageStore(fresh).alternatives(first["id"]))["count"] == 2
        finally:
            await fresh.close()
    finally:
        await conn.close()


@pytest.mark.parametrize("kind", ["fifo", "folder", "loop"])
async def test_markdown_to_a_target_that_is_not_a_file_writes_no_images(source, tmp_path, kind):
    conn, built = source
    target = tmp_path / "out.md"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "folder":
        target.mkdir()
    else:
        target.symlink_to(tmp_path / "loop.md")
        (tmp_path / "loop.md").symlink_to(target)
    with pytest.raises(InvalidArgumentError, match="out.md"):
        await export_thread_file(conn, built["thread_id"], target, "md")
    assert not (tmp_path / "out_files").exists() and not (tmp_path / "loop_files").exists()
