"""ThreadStore: titles, list order and filters, archive and trash, stats, fork, branch, lineage, tree."""

from __future__ import annotations

import pytest

from tui_agents.errors import InvalidArgumentError, NotFoundError
from tui_agents.types import ToolCall


async def _fill(messages, thread_id, n):
    return [await messages.add(thread_id, "user" if i % 2 == 0 else "assistant", f"message number {i}")
            for i in range(n)]


async def test_create_and_get_match_the_seed_usage(threads, agent):
    thread = await threads.create(agent_id=agent["id"])
    assert thread["id"].startswith("thr_")
    got = await threads.get(thread["id"])
    assert got == thread
    assert got["agent_id"] == agent["id"] and got["title"] is None and got["fork_kind"] is None
    with pytest.raises(NotFoundError):
        await threads.get("thr_missing")
    with pytest.raises(NotFoundError, match="Agent"):
        await threads.create(agent_id="agt_missing")


async def test_auto_title_never_overwrites_a_user_title(threads, agent):
    t = await threads.create(agent_id=agent["id"])
    t = await threads.set_auto_title(t["id"], "Generated")
    assert (t["title"], t["title_source"]) == ("Generated", "auto")
    t = await threads.set_auto_title(t["id"], "Generated again")
    assert t["title"] == "Generated again"
    t = await threads.rename(t["id"], "Mine")
    assert (t["title"], t["title_source"]) == ("Mine", "user")
    t = await threads.set_auto_title(t["id"], "Robot title")
    assert (t["title"], t["title_source"]) == ("Mine", "user")
    named = await threads.create(agent_id=agent["id"], title="Given")
    assert (await threads.set_auto_title(named["id"], "x"))["title"] == "Given"


async def test_summary_and_model(threads, thread):
    t = await threads.set_summary(thread["id"], "We talked.")
    assert t["summary"] == "We talked."
    t = await threads.set_model(thread["id"], "anthropic", "claude-x")
    assert (t["provider"], t["model"]) == ("anthropic", "claude-x")


async def test_list_is_by_last_activity_and_adding_a_message_bumps_it(threads, messages, agent):
    a = await threads.create(agent_id=agent["id"], user_id="u1")
    b = await threads.create(agent_id=agent["id"], user_id="u1")
    c = await threads.create(agent_id=agent["id"], user_id="u2")
    assert [t["id"] for t in await threads.list()] == [c["id"], b["id"], a["id"]]
    await messages.add(a["id"], "user", "hi")
    assert [t["id"] for t in await threads.list()][0] == a["id"]
    assert (await threads.get(a["id"]))["updated_at"] > a["updated_at"]
    assert [t["id"] for t in await threads.list(user_id="u1")] == [a["id"], b["id"]]
    assert [t["id"] for t in await threads.list(limit=1, offset=1)] == [c["id"]]


async def test_archive_and_trash_filters(threads, agent):
    keep = await threads.create(agent_id=agent["id"])
    old = await threads.create(agent_id=agent["id"])
    gone = await threads.create(agent_id=agent["id"])
    await threads.archive(old["id"])
    await threads.trash(gone["id"])
    assert [t["id"] for t in await threads.list()] == [keep["id"]]
    assert {t["id"] for t in await threads.list(include_archived=True)} == {keep["id"], old["id"]}
    assert [t["id"] for t in await threads.list_archived()] == [old["id"]]
    assert [t["id"] for t in await threads.list_trash()] == [gone["id"]]
    await threads.unarchive(old["id"])
    restored = await threads.restore(gone["id"])
    assert restored["trashed_at"] is None
    assert {t["id"] for t in await threads.list()} == {keep["id"], old["id"], gone["id"]}
    await threads.trash(gone["id"])
    await threads.trash(old["id"])
    assert await threads.empty_trash() == 2
    assert await threads.list_trash() == []
    with pytest.raises(NotFoundError):
        await threads.get(gone["id"])


async def test_get_stats_has_exactly_the_seed_keys(threads, messages, thread):
    await messages.add(thread["id"], "user", "héllo")  # 6 bytes
    await messages.add(thread["id"], "assistant", "1234")
    stats = await threads.get_stats(thread["id"])
    assert stats == {"message_count": 2, "total_bytes": 10, "forked_from": None}


async def test_fork_copies_content_order_and_tool_calls_and_records_lineage(threads, messages, thread):
    await threads.rename(thread["id"], "Original")
    await messages.add(thread["id"], "user", "what is the weather?")
    await messages.add(thread["id"], "assistant", "",
                              tool_calls=[ToolCall(id="call_1", name="weather", arguments={"city": "Paris"})],
                              usage={"input_tokens": 3, "output_tokens": 4}, model="m1", token_count=7)
    await messages.add(thread["id"], "tool", "sunny", tool_call_id="call_1",
                       meta={"name": "weather", "arguments": {"city": "Paris"}, "status": "ok", "duration_ms": 5})
    last = await messages.add(thread["id"], "assistant", "It is sunny.", guardrail={"injection": False})
    fork = await threads.fork(thread["id"], title="Copy")
    assert fork["title"] == "Copy" and fork["title_source"] == "user"
    assert (fork["forked_from"], fork["forked_from_message"], fork["fork_kind"]) == (thread["id"], last["id"], "fork")
    source = await messages.list(thread["id"])
    copied = await messages.list(fork["id"])
    assert len(copied) == 4
    strip = ("id", "thread_id")
    assert [{k: v for k, v in m.items() if k not in strip} for m in copied] == \
           [{k: v for k, v in m.items() if k not in strip} for m in source]
    assert {m["id"] for m in copied}.isdisjoint({m["id"] for m in source})
    assert all(m["thread_id"] == fork["id"] for m in copied)
    assert copied[1]["tool_calls"] == [{"id": "call_1", "name": "weather", "arguments": {"city": "Paris"}}]
    assert copied[1]["token_count"] == 7 and copied[1]["usage"] == {"input_tokens": 3, "output_tokens": 4}
    assert (await threads.get_stats(fork["id"]))["forked_from"] == thread["id"]
    assert [m["id"] for m in await messages.tool_calls(fork["id"])] == [copied[2]["id"]]
    untitled = await threads.fork(thread["id"])
    assert (untitled["title"], untitled["title_source"]) == ("Original (fork)", "user")


async def test_branch_copies_up_to_and_including_the_message(threads, messages, thread):
    sent = await _fill(messages, thread["id"], 6)
    branch = await threads.branch(thread["id"], from_message_id=sent[2]["id"])
    assert (branch["fork_kind"], branch["forked_from_message"]) == ("branch", sent[2]["id"])
    assert [m["content"] for m in await messages.list(branch["id"])] == [m["content"] for m in sent[:3]]
    added = await messages.add(branch["id"], "assistant", "a different answer")
    assert added["position"] == 4
    assert await messages.count(thread["id"]) == 6


async def test_branch_from_a_message_of_another_thread_is_invalid(threads, messages, thread, agent):
    other = await threads.create(agent_id=agent["id"])
    foreign = await messages.add(other["id"], "user", "elsewhere")
    with pytest.raises(InvalidArgumentError, match="not in thread"):
        await threads.branch(thread["id"], from_message_id=foreign["id"])
    with pytest.raises(InvalidArgumentError):
        await threads.branch(thread["id"], from_message_id="msg_missing")


async def test_a_reply_streaming_while_forked_is_interrupted_in_the_copy(threads, messages, thread):
    await messages.add(thread["id"], "user", "Tell me a story")
    reply = await messages.add(thread["id"], "assistant", "Once upon", status="streaming")

    fork = await threads.fork(thread["id"])
    branch = await threads.branch(thread["id"], reply["id"])
    await messages.update(reply["id"], content="Once upon a time.", status="complete")

    for copy in (fork, branch):
        copied = (await messages.list(copy["id"]))[-1]
        assert (copied["status"], copied["content"]) == ("interrupted", "Once upon")
    assert (await messages.get(reply["id"]))["status"] == "complete"


async def test_fork_of_an_empty_thread(threads, messages, thread):
    fork = await threads.fork(thread["id"])
    assert await messages.list(fork["id"]) == [] and fork["forked_from_message"] is None


async def test_editing_a_forked_message_never_changes_the_other_thread(threads, messages, thread):
    sent = await _fill(messages, thread["id"], 3)
    fork = await threads.fork(thread["id"])
    forked = await messages.list(fork["id"])
    await messages.update(forked[1]["id"], content="changed in the fork", token_count=4)
    assert (await messages.get(sent[1]["id"]))["content"] == "message number 1"
    assert (await messages.get(forked[1]["id"]))["content"] == "changed in the fork"
    await messages.update(sent[0]["id"], content="changed in the source")
    assert (await messages.get(forked[0]["id"]))["content"] == "message number 0"
    # the unshared message is edited in place and still found by search
    await messages.update(forked[1]["id"], content="changed again")
    hits = await threads.search("again")
    assert [h["message_id"] for h in hits] == [forked[1]["id"]]
    assert await threads.search("fork") == []


async def test_deleting_a_thread_keeps_its_forks_content(threads, messages, thread):
    await _fill(messages, thread["id"], 3)
    fork = await threads.fork(thread["id"])
    await threads.delete(thread["id"])
    assert [m["content"] for m in await messages.list(fork["id"])][0] == "message number 0"
    kept = await threads.get(fork["id"])
    assert kept["forked_from"] is None
    await threads.delete(fork["id"])
    rows = await threads.conn.execute_fetchall("SELECT count(*) FROM contents")
    assert rows[0][0] == 0


async def test_lineage_and_tree(threads, messages, thread, agent):
    sent = await _fill(messages, thread["id"], 2)
    fork = await threads.fork(thread["id"])
    grandchild = await threads.branch(fork["id"], (await messages.list(fork["id"]))[0]["id"])
    branch = await threads.branch(thread["id"], sent[0]["id"])
    other = await threads.create(agent_id=agent["id"])
    lineage = await threads.lineage(grandchild["id"])
    assert [t["id"] for t in lineage["ancestors"]] == [fork["id"], thread["id"]]
    assert lineage["children"] == []
    assert [t["id"] for t in (await threads.lineage(thread["id"]))["children"]] == [fork["id"], branch["id"]]
    tree = await threads.tree()
    drawn = [(n["id"], n["depth"], n["parent_id"]) for n in tree]
    assert drawn == [
        (other["id"], 0, None),
        (thread["id"], 0, None),
        (fork["id"], 1, thread["id"]),
        (grandchild["id"], 2, fork["id"]),
        (branch["id"], 1, thread["id"]),
    ]
    await threads.trash(fork["id"])
    drawn = [(n["id"], n["depth"], n["parent_id"]) for n in await threads.tree()]
    assert (grandchild["id"], 0, None) in drawn and fork["id"] not in {d[0] for d in drawn}


async def _content_rows(threads) -> int:
    return (await threads.conn.execute_fetchall("SELECT count(*) FROM contents"))[0][0]


async def test_shared_content_survives_until_its_last_holder_goes(threads, messages, thread):
    sent = await _fill(messages, thread["id"], 3)
    middle = await threads.fork(thread["id"])
    leaf = await threads.fork(middle["id"])
    assert await _content_rows(threads) == 3
    await threads.delete(middle["id"])  # the leaf still reaches the root's content through the deleted middle
    leaf_messages = await messages.list(leaf["id"])
    await messages.update(leaf_messages[0]["id"], content="leaf only")
    assert (await messages.get(sent[0]["id"]))["content"] == "message number 0"
    assert await _content_rows(threads) == 4
    hits = {h["snippet"]: (h["thread_id"], h["other_threads"]) for h in await threads.search("number")}
    assert hits == {"message [[number]] 2": (leaf["id"], 1), "message [[number]] 1": (leaf["id"], 1),
                    "message [[number]] 0": (thread["id"], 0)}
    await messages.delete(sent[1]["id"])
    assert (await messages.get(leaf_messages[1]["id"]))["content"] == "message number 1"
    assert await _content_rows(threads) == 4
    await messages.delete(leaf_messages[1]["id"])
    assert await _content_rows(threads) == 3
    await threads.delete(thread["id"])
    assert [m["content"] for m in await messages.list(leaf["id"])] == ["leaf only", "message number 2"]
    assert await _content_rows(threads) == 2
    await threads.delete(leaf["id"])
    assert await _content_rows(threads) == 0


async def test_editing_in_a_branch_of_a_branch_is_isolated(threads, messages, thread):
    sent = await _fill(messages, thread["id"], 4)
    b1 = await threads.branch(thread["id"], sent[2]["id"])
    b2 = await threads.branch(b1["id"], (await messages.list(b1["id"]))[1]["id"])
    target = (await messages.list(b2["id"]))[1]
    await messages.update(target["id"], content="edited deep down")
    assert [m["content"] for m in await messages.list(b1["id"])] == [m["content"] for m in sent[:3]]
    assert (await messages.get(sent[1]["id"]))["content"] == "message number 1"
    assert [h["thread_id"] for h in await threads.search("edited")] == [b2["id"]]
