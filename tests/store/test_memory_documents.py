"""UserMemoryStore and DocumentStore."""

from __future__ import annotations

import pytest

from tui_agents.errors import InvalidArgumentError, NotFoundError


async def test_user_memory_upsert_get_all_delete_and_prompt(memory):
    await memory.set("u", "name", "Phil")
    await memory.set("u", "timezone", "Europe/London")
    await memory.set("u", "style", "concise", category="preferences", source="extractor")
    await memory.set("u", "name", "Philip", source="tool")
    await memory.set("other", "name", "Ann")
    assert await memory.get("u", "name") == "Philip"
    assert await memory.get("u", "missing") is None
    facts = await memory.get_all("u")
    assert [(f["key"], f["value"], f["source"]) for f in facts] == [
        ("name", "Philip", "tool"), ("timezone", "Europe/London", "user"), ("style", "concise", "extractor")]
    assert [f["key"] for f in await memory.get_all("u", category="preferences")] == ["style"]
    text = memory.format_for_prompt(facts)
    assert "- name: Philip" in text and "Preferences:\n- style: concise" in text
    assert memory.format_for_prompt([]) == ""
    assert await memory.delete("u", "name") is True
    assert await memory.delete("u", "name") is False
    with pytest.raises(InvalidArgumentError):
        await memory.set("u", "k", "v", source="robot")


async def test_documents_add_search_delete(documents):
    a = await documents.add("Pool rules", "The pool opens at 9 and closes at 21.", source="rules.md")
    b = await documents.add("Check-in", "Check-in from 3pm; the key box code is 4812.")
    assert a["id"].startswith("doc_")
    assert (await documents.get(a["id"]))["title"] == "Pool rules"
    assert [d["id"] for d in await documents.list()] == [b["id"], a["id"]]
    hits = await documents.search("pool closes")
    assert [h["document_id"] for h in hits] == [a["id"]]
    assert "[[closes]]" in hits[0]["snippet"] and hits[0]["source"] == "rules.md"
    assert await documents.search('"') == [] and await documents.search("AND(") == []
    await documents.delete(a["id"])
    assert await documents.search("pool") == []
    with pytest.raises(NotFoundError):
        await documents.get(a["id"])


async def test_replace_source_swaps_a_files_document_in_one_step(documents):
    old = await documents.add("Pool", "The pool opens at 9.", source="/kb/pool.md")
    other = await documents.add("Wifi", "The code is 1234.", source="/kb/wifi.md")

    new, replaced = await documents.replace_source("Pool", "The pool opens at 8.", "/kb/pool.md")

    assert replaced == [old["id"]]
    assert {d["id"] for d in await documents.list()} == {new["id"], other["id"]}
    assert [h["document_id"] for h in await documents.search("pool opens")] == [new["id"]]
    # The insert fails after the delete ran (SQLite cannot take half a surrogate pair): nothing changes.
    with pytest.raises(InvalidArgumentError):
        await documents.replace_source("Pool", "broken \ud83d", "/kb/pool.md")
    assert (await documents.get(new["id"]))["text"] == "The pool opens at 8."
    fresh, replaced = await documents.replace_source("Sauna", "The sauna is hot.", "/kb/sauna.md")
    assert replaced == [] and (await documents.get(fresh["id"]))["source"] == "/kb/sauna.md"
