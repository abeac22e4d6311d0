"""Regenerated replies stay on their message slot: switchable, never deleted, carried by forks and branches."""

from __future__ import annotations

import pytest

from tui_agents.errors import InvalidArgumentError, NotFoundError


async def _regenerate(messages, thread_id: str, *rows: tuple[str, str]) -> dict:
    """What the runner does: set the last reply aside, write the new reply's rows, close the regeneration."""
    begun = await messages.begin_alternative(thread_id)
    for role, text in rows:
        kwargs = {"tool_call_id": "c1"} if role == "tool" else {}
        await messages.add(thread_id, role, text, **kwargs)
    await messages.end_alternative(begun)
    return begun


async def _shown(messages, thread_id: str) -> list[str]:
    return [m["content"] for m in await messages.list(thread_id)]


async def test_regenerating_keeps_both_replies_and_shows_the_new_one(messages, thread):
    await messages.add(thread["id"], "user", "Name a colour")
    first = await messages.add(thread["id"], "assistant", "Red")
    begun = await _regenerate(messages, thread["id"], ("assistant", "Blue"))
    assert (begun["index"], begun["count"], begun["replaces"]) == (1, 2, first["id"])
    assert await _shown(messages, thread["id"]) == ["Name a colour", "Blue"]
    assert await messages.count(thread["id"]) == 2
    shown = (await messages.list(thread["id"]))[-1]
    slots = await messages.alternative_slots(thread["id"])
    assert slots == {shown["id"]: {"index": 1, "count": 2, "message_ids": [first["id"], shown["id"]]}}
    assert (await messages.get(first["id"]))["content"] == "Red"  # nothing deleted


async def test_selecting_an_alternative_changes_what_list_and_light_rows_return(messages, thread):
    await messages.add(thread["id"], "user", "Name a colour")
    first = await messages.add(thread["id"], "assistant", "Red")
    await _regenerate(messages, thread["id"], ("assistant", "Blue"))
    await _regenerate(messages, thread["id"], ("assistant", "Green"))
    assert (await messages.alternatives(first["id"]))["count"] == 3
    # a search hit in an alternative not shown: the app can show the alternative it belongs to
    hit = (await messages.alternatives(first["id"]))
    assert (hit["index"], hit["own"]) == (2, 0)
    chosen = await messages.select_alternative(first["id"], 0)
    assert (chosen["index"], chosen["count"]) == (0, 3)
    assert await _shown(messages, thread["id"]) == ["Name a colour", "Red"]
    assert [r["id"] for r in await messages.list_light(thread["id"])][-1] == first["id"]
    # the next turn follows the chosen reply
    await messages.add(thread["id"], "user", "Another")
    assert await _shown(messages, thread["id"]) == ["Name a colour", "Red", "Another"]
    await messages.select_alternative(chosen["message_ids"][2], 2)
    assert await _shown(messages, thread["id"]) == ["Name a colour", "Green", "Another"]


async def test_a_tool_loop_reply_is_one_alternative(messages, thread):
    await messages.add(thread["id"], "user", "What time is it?")
    await messages.add(thread["id"], "assistant", "", tool_calls=[{"id": "c1", "name": "now", "arguments": {}}])
    await messages.add(thread["id"], "tool", "12:00", tool_call_id="c1")
    first_answer = await messages.add(thread["id"], "assistant", "Noon.")
    await _regenerate(messages, thread["id"], ("assistant", "It is 12:00."))
    assert await _shown(messages, thread["id"]) == ["What time is it?", "It is 12:00."]
    assert await messages.tool_calls(thread["id"]) == []
    await messages.select_alternative(first_answer["id"], 0)
    assert await _shown(messages, thread["id"]) == ["What time is it?", "", "12:00", "Noon."]
    assert [m["content"] for m in await messages.tool_calls(thread["id"])] == ["12:00"]


async def test_a_regeneration_that_writes_nothing_keeps_the_old_reply(messages, thread):
    await messages.add(thread["id"], "user", "Hi")
    old = await messages.add(thread["id"], "assistant", "Hello!")
    begun = await messages.begin_alternative(thread["id"])
    assert await _shown(messages, thread["id"]) == ["Hi", "Hello!"]  # shown until the new reply starts
    await messages.end_alternative(begun)
    assert await _shown(messages, thread["id"]) == ["Hi", "Hello!"]
    assert await messages.alternatives(old["id"]) is None
    assert await messages.alternative_slots(thread["id"]) == {}


async def test_no_reply_to_set_aside_gives_none(messages, thread):
    assert await messages.begin_alternative(thread["id"]) is None
    await messages.add(thread["id"], "user", "Hi")
    assert await messages.begin_alternative(thread["id"]) is None
    with pytest.raises(NotFoundError):
        await messages.begin_alternative("thr_missing")


async def test_choosing_a_missing_alternative_is_a_clear_error(messages, thread):
    await messages.add(thread["id"], "user", "Hi")
    plain = await messages.add(thread["id"], "assistant", "Hello")
    assert await messages.alternatives(plain["id"]) is None
    with pytest.raises(InvalidArgumentError, match="no other replies"):
        await messages.select_alternative(plain["id"], 1)
    await _regenerate(messages, thread["id"], ("assistant", "Hey"))
    with pytest.raises(InvalidArgumentError, match="replies 0 to 1"):
        await messages.select_alternative(plain["id"], 2)
    with pytest.raises(NotFoundError):
        await messages.select_alternative("msg_missing", 0)


async def test_forks_and_branches_carry_the_alternatives(threads, messages, thread):
    await threads.rename(thread["id"], "Colours")
    await messages.add(thread["id"], "user", "Name a colour")
    first = await messages.add(thread["id"], "assistant", "Red")
    await _regenerate(messages, thread["id"], ("assistant", "Blue"))
    fork = await threads.fork(thread["id"])
    assert fork["title"] == "Colours (fork)"
    assert await _shown(messages, fork["id"]) == ["Name a colour", "Blue"]
    fork_first = (await messages.alternative_slots(fork["id"])).popitem()[1]["message_ids"][0]
    await messages.select_alternative(fork_first, 0)
    assert await _shown(messages, fork["id"]) == ["Name a colour", "Red"]
    assert await _shown(messages, thread["id"]) == ["Name a colour", "Blue"]  # the source keeps its choice
    # branching at the first reply takes the later alternative along, though it sits after it
    await messages.select_alternative(first["id"], 0)
    branch = await threads.branch(thread["id"], first["id"])
    assert branch["title"] == "Colours (branch at 2)"
    assert await _shown(messages, branch["id"]) == ["Name a colour", "Red"]
    slots = await messages.alternative_slots(branch["id"])
    assert [s["count"] for s in slots.values()] == [2]
    await messages.select_alternative(next(iter(slots)), 1)
    assert await _shown(messages, branch["id"]) == ["Name a colour", "Blue"]


async def test_a_regeneration_that_crashed_before_its_first_token_still_shows_the_old_reply(threads, messages, thread):
    await messages.add(thread["id"], "user", "Hi")
    await messages.add(thread["id"], "assistant", "Hello!")
    await messages.begin_alternative(thread["id"])  # the process dies here: end_alternative never runs
    assert await _shown(messages, thread["id"]) == ["Hi", "Hello!"]
    fork = await threads.fork(thread["id"])
    assert await _shown(messages, fork["id"]) == ["Hi", "Hello!"]
    await _regenerate(messages, thread["id"], ("assistant", "Hey!"))  # the next try works as usual
    assert await _shown(messages, thread["id"]) == ["Hi", "Hey!"]
    assert [s["count"] for s in (await messages.alternative_slots(thread["id"])).values()] == [2]


async def test_search_finds_a_reply_that_is_not_shown_and_says_which_alternative_it_is(threads, messages, thread):
    await messages.add(thread["id"], "user", "Name a colour")
    first = await messages.add(thread["id"], "assistant", "Vermilion")
    await _regenerate(messages, thread["id"], ("assistant", "Cobalt"))
    (hit,) = await threads.search("vermilion")
    assert hit["message_id"] == first["id"]
    found = await messages.alternatives(hit["message_id"])
    await messages.select_alternative(hit["message_id"], found["own"])
    assert await _shown(messages, thread["id"]) == ["Name a colour", "Vermilion"]


async def test_a_copy_says_where_it_came_from_for_the_chat_header(threads, messages, thread):
    await threads.rename(thread["id"], "Colours")
    await messages.add(thread["id"], "user", "Name a colour")
    await messages.add(thread["id"], "assistant", "Red")
    await _regenerate(messages, thread["id"], ("assistant", "Blue"))
    asked = await messages.add(thread["id"], "user", "Another")
    await messages.add(thread["id"], "assistant", "Green")
    branch = await threads.branch(thread["id"], asked["id"])
    assert branch["title"] == "Colours (branch at 3)"  # the hidden "Red" is not counted
    assert await threads.origin(branch["id"]) == {
        "kind": "branch", "thread_id": thread["id"], "title": "Colours", "trashed": False,
        "message_id": asked["id"], "at": 3}
    fork = await threads.fork(branch["id"])
    assert (await threads.origin(fork["id"]))["kind"] == "fork"
    assert await threads.origin(thread["id"]) is None
    await threads.delete(thread["id"])
    assert await threads.origin(branch["id"]) is None
