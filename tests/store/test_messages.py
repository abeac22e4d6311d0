"""MessageStore: add, read windows, light rows, updates, token counts, statuses and roles."""

from __future__ import annotations

import pytest

from tui_agents.errors import InvalidArgumentError, NotFoundError
from tui_agents.types import Usage


async def test_add_and_get_round_trip(messages, thread):
    msg = await messages.add(thread["id"], "assistant", "hello", model="m",
                             usage=Usage(input_tokens=1, output_tokens=2), token_count=3, guardrail={"injection": True, "reason": "x", "action": "warn"},
                             meta={"k": 1}, status="streaming")
    assert msg["id"].startswith("msg_") and msg["position"] == 1
    got = await messages.get(msg["id"])
    assert got == msg
    assert got["usage"] == {"input_tokens": 1, "output_tokens": 2}
    assert got["tool_calls"] == [] and got["tool_call_id"] is None
    with pytest.raises(NotFoundError):
        await messages.get("msg_missing")


async def test_invalid_role_status_and_thread_are_typed_errors(messages, thread):
    with pytest.raises(InvalidArgumentError, match="status"):
        await messages.add(thread["id"], "user", "x", status="done")
    with pytest.raises(InvalidArgumentError, match="role"):
        await messages.add(thread["id"], "robot", "x")
    with pytest.raises(NotFoundError, match="Thread"):
        await messages.add("thr_missing", "user", "x")
    with pytest.raises(InvalidArgumentError, match="tool call"):
        await messages.add(thread["id"], "assistant", "", tool_calls=[{"name": "no id"}])
    msg = await messages.add(thread["id"], "user", "x")
    with pytest.raises(InvalidArgumentError, match="status"):
        await messages.update(msg["id"], status="finished")
    assert await messages.count(thread["id"]) == 1


async def test_text_with_broken_surrogates_is_kept_not_lost(messages, threads, thread):
    # JSON escapes in a stream can split an emoji into two deltas, or leave half of one.
    split = "smile \ud83d" + "\ude00 done"
    msg = await messages.add(thread["id"], "assistant", "a lone \ud83d half", status="streaming")
    assert (await messages.get(msg["id"]))["content"] == "a lone \ufffd half"
    await messages.update(msg["id"], content=split, status="complete")
    assert (await messages.get(msg["id"]))["content"] == "smile \U0001f600 done"
    call = {"id": "c1", "name": "echo", "arguments": {"text": "\ud83d"}}
    msg = await messages.update(msg["id"], tool_calls=[call])
    assert msg["tool_calls"][0]["arguments"] == {"text": "\ufffd"}
    with pytest.raises(InvalidArgumentError, match="surrogate"):
        await threads.rename(thread["id"], "title \ud83d")


async def test_list_windows_and_light_rows(messages, thread):
    sent = [await messages.add(thread["id"], "user", "x" * (i + 1)) for i in range(10)]
    assert [m["position"] for m in await messages.list(thread["id"])] == list(range(1, 11))
    assert [m["position"] for m in await messages.list(thread["id"], limit=3)] == [8, 9, 10]
    assert [m["position"] for m in await messages.list(thread["id"], limit=3, before=8)] == [5, 6, 7]
    assert [m["position"] for m in await messages.list(thread["id"], before=3)] == [1, 2]
    light = await messages.list_light(thread["id"], limit=2)
    assert light[0] == {"id": sent[8]["id"], "position": 9, "role": "user", "token_count": None,
                        "tool_call_id": None, "has_tool_calls": False, "chars": 9}
    assert await messages.count(thread["id"]) == 10
    with pytest.raises(NotFoundError):
        await messages.list("thr_missing")


async def test_get_many_keeps_the_given_order_and_skips_unknown(messages, thread):
    a = await messages.add(thread["id"], "user", "a")
    b = await messages.add(thread["id"], "assistant", "b")
    got = await messages.get_many([b["id"], "msg_missing", a["id"]])
    assert [m["content"] for m in got] == ["b", "a"]


async def test_update_fields_and_streaming_to_complete(messages, thread):
    msg = await messages.add(thread["id"], "assistant", "", status="streaming")
    done = await messages.update(msg["id"], content="full reply", status="complete", usage={"input_tokens": 5,
                                 "output_tokens": 6}, model="m2", tool_calls=[{"id": "c", "name": "t"}],
                                 meta={"a": 1}, guardrail={"injection": False})
    assert done["content"] == "full reply" and done["status"] == "complete" and done["model"] == "m2"
    assert done["tool_calls"] == [{"id": "c", "name": "t", "arguments": {}}]
    assert done["updated_at"] >= msg["updated_at"]
    interrupted = await messages.update(msg["id"], status="interrupted")
    assert interrupted["content"] == "full reply"
    with pytest.raises(NotFoundError):
        await messages.update("msg_missing", status="error")


async def test_set_token_counts_in_one_go(messages, thread):
    a = await messages.add(thread["id"], "user", "one two")
    b = await messages.add(thread["id"], "assistant", "three")
    await messages.set_token_counts({a["id"]: 2, b["id"]: 1})
    assert [m["token_count"] for m in await messages.list(thread["id"])] == [2, 1]
    assert [m["token_count"] for m in await messages.list_light(thread["id"])] == [2, 1]


async def test_tool_calls_lists_tool_results_in_order(messages, thread):
    await messages.add(thread["id"], "assistant", "", tool_calls=[{"id": "c1", "name": "a"}, {"id": "c2", "name": "b"}])
    r1 = await messages.add(thread["id"], "tool", "result one", tool_call_id="c1",
                            meta={"name": "a", "arguments": {}, "started_at": 1.0, "duration_ms": 3, "status": "ok"})
    r2 = await messages.add(thread["id"], "tool", "boom", tool_call_id="c2",
                            meta={"name": "b", "arguments": {}, "started_at": 1.0, "duration_ms": 9, "status": "error"})
    results = await messages.tool_calls(thread["id"])
    assert [r["id"] for r in results] == [r1["id"], r2["id"]]
    assert results[1]["meta"]["status"] == "error"
    light = await messages.list_light(thread["id"])
    assert [x["has_tool_calls"] for x in light] == [True, False, False]


async def test_delete_one_message(messages, thread):
    a = await messages.add(thread["id"], "user", "a")
    b = await messages.add(thread["id"], "user", "b")
    await messages.delete(a["id"])
    assert [m["id"] for m in await messages.list(thread["id"])] == [b["id"]]
    assert (await messages.conn.execute_fetchall("SELECT text FROM contents"))[0][0] == "b"
    with pytest.raises(NotFoundError):
        await messages.delete(a["id"])


async def test_concurrent_calls_on_one_connection_never_interleave(messages, threads, thread):
    import asyncio

    await asyncio.gather(*(messages.add(thread["id"], "user", f"m{i}") for i in range(40)),
                         *(threads.fork(thread["id"]) for _ in range(5)))
    assert [m["position"] for m in await messages.list(thread["id"])] == list(range(1, 41))
    assert len(await threads.list()) == 6
