"""Memory strategies over real SQLite threads: counts, budgets and tool-call boundaries."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_agents.errors import InvalidArgumentError
from tui_agents.memory import MemoryStrategy, TokenCounter, get_memory_strategy
from tui_agents.memory.units import drop_broken
from tui_agents.store import AgentStore, MessageStore, ThreadStore, connect

# --- building conversations --------------------------------------------------

# A conversation "shape" is a list of unit kinds:
#   "u" user text, "a" assistant text, ("t", k) an assistant calling k tools in
#   parallel followed by its k results, ("partial", k) the same with its last
#   result missing, "orphan" a tool result answering nothing, "err" an
#   assistant reply that failed before its first token, "int" an interrupted
#   reply with partial text.
Shape = list[Any]


def messages_for(shape: Shape) -> list[dict[str, Any]]:
    """The messages (as MessageStore.add keyword arguments) of a shape."""
    out: list[dict[str, Any]] = []
    for i, kind in enumerate(shape):
        if kind == "u":
            out.append({"role": "user", "content": f"question {i} " * (1 + i % 4)})
        elif kind == "a":
            out.append({"role": "assistant", "content": f"answer {i} " * (1 + i % 5)})
        elif kind == "err":
            out.append({"role": "assistant", "content": "", "status": "error"})
        elif kind == "int":
            out.append({"role": "assistant", "content": f"partial {i}", "status": "interrupted"})
        elif kind == "orphan":
            out.append({"role": "tool", "content": "lost result", "tool_call_id": f"gone{i}"})
        else:
            tag, k = kind
            calls = [{"id": f"c{i}_{j}", "name": "lookup", "arguments": {"q": f"x{j}"}} for j in range(k)]
            out.append({"role": "assistant", "content": "", "tool_calls": calls})
            answered = calls if tag == "t" else calls[:-1]
            out += [{"role": "tool", "content": f"result {c['id']}", "tool_call_id": c["id"]} for c in answered]
    return out


def light_rows_for(specs: Sequence[dict[str, Any]], counts: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """Light rows like MessageStore.list_light's, for the pure ``select_rows`` tests."""
    return [
        {
            "id": f"m{i}",
            "position": i + 1,
            "role": spec["role"],
            "token_count": None if counts is None else counts[i],
            "tool_call_id": spec.get("tool_call_id"),
            "has_tool_calls": bool(spec.get("tool_calls")),
            "chars": len(spec["content"]),
        }
        for i, spec in enumerate(specs)
    ]


def assert_well_formed(records: Sequence[dict[str, Any]]) -> None:
    """What a provider needs: no orphan result, every call answered, no leading tool message."""
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)), "a message appears twice"
    positions = [r["position"] for r in records]
    assert positions == sorted(positions), "not in conversation order"
    if records:
        assert records[0]["role"] != "tool", "the context starts with a tool result"
    open_calls: set[str] | None = None
    for record in records:
        if record["role"] == "tool":
            assert open_calls is not None and record["tool_call_id"] in open_calls, "orphaned tool result"
            open_calls.discard(record["tool_call_id"])
            continue
        assert not open_calls, "a tool call is missing its result"
        calls = record.get("tool_calls") or []
        open_calls = {c["id"] for c in calls} if record["role"] == "assistant" and calls else None
    assert not open_calls, "a tool call is missing its result"


def records_of(specs: Sequence[dict[str, Any]], ids: Sequence[str]) -> list[dict[str, Any]]:
    """Records (as far as the checks need them) of the ``m{i}`` ids of pure rows."""
    out = []
    for message_id in ids:
        i = int(message_id[1:])
        out.append({"id": message_id, "position": i + 1, **specs[i]})
    return out


async def make_thread(conn, specs: Sequence[dict[str, Any]]) -> str:
    agent = await AgentStore(conn).create(name=f"agent{id(specs)}-{len(specs)}", system_prompt="Be brief.")
    thread = await ThreadStore(conn).create(agent_id=agent["id"])
    messages = MessageStore(conn)
    for spec in specs:
        await messages.add(thread["id"], **spec)
    return thread["id"]


@pytest.fixture
async def conn(tmp_path):
    c = await connect(tmp_path / "db.sqlite")
    yield c
    await c.close()


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return TokenCounter("o200k_base")


PARALLEL: Shape = ["u", "a", "u", ("t", 3), "a", "u", ("t", 1), ("t", 2), "a", "u", "a", "u", ("t", 4), "a", "u"]


# --- construction ------------------------------------------------------------


def test_defaults_and_descriptions():
    assert get_memory_strategy("last_n").n == 20
    first_last = get_memory_strategy("first_last")
    assert (first_last.first, first_last.last) == (2, 10)
    window = get_memory_strategy("token_window")
    assert window.max_tokens == 100_000
    assert isinstance(window, MemoryStrategy)
    assert window.params == {"max_tokens": 100_000}
    assert "100,000 tokens" in window.describe()
    assert get_memory_strategy("last_n", n=5).describe() == "last 5 messages"


@pytest.mark.parametrize(
    ("name", "params", "says"),
    [
        ("newest", {}, "Unknown memory strategy 'newest'"),
        ("last_n", {"m": 3}, "has no parameter 'm'; it takes: n"),
        ("last_n", {"n": 0}, "n to be a whole number of at least 1"),
        ("last_n", {"n": "5"}, "n to be a whole number"),
        ("last_n", {"n": True}, "n to be a whole number"),
        ("first_last", {"first": -1}, "first to be a whole number of at least 0"),
        ("first_last", {"last": 0}, "last to be a whole number of at least 1"),
        ("token_window", {"max_tokens": 2.5}, "max_tokens to be a whole number"),
    ],
)
def test_bad_names_and_params_are_plain_errors(name, params, says):
    with pytest.raises(InvalidArgumentError) as info:
        get_memory_strategy(name, **params)
    assert says in str(info.value)
    assert "\n" not in str(info.value)


# --- counts and budgets over real threads --------------------------------------


async def test_last_n_returns_the_newest_n_messages(conn, counter):
    specs = messages_for(["u", "a"] * 15)
    thread_id = await make_thread(conn, specs)
    records = await get_memory_strategy("last_n", n=5).select(MessageStore(conn), thread_id, counter)
    assert [r["position"] for r in records] == [26, 27, 28, 29, 30]
    assert [r["content"] for r in records] == [s["content"] for s in specs[-5:]]


async def test_last_n_keeps_a_tool_unit_whole_or_not_at_all(conn, counter):
    thread_id = await make_thread(conn, messages_for(["u", ("t", 3), "a"]))
    messages = MessageStore(conn)
    # 5 messages; n=3 cannot hold the 4-message tool unit, so only the final answer fits.
    records = await get_memory_strategy("last_n", n=3).select(messages, thread_id, counter)
    assert [r["role"] for r in records] == ["assistant"]
    records = await get_memory_strategy("last_n", n=5).select(messages, thread_id, counter)
    assert [r["role"] for r in records] == ["user", "assistant", "tool", "tool", "tool", "assistant"][1:]


async def test_newest_tool_unit_is_kept_even_when_larger_than_n(conn, counter):
    thread_id = await make_thread(conn, messages_for(["u", ("t", 4)]))
    records = await get_memory_strategy("last_n", n=2).select(MessageStore(conn), thread_id, counter)
    assert [r["role"] for r in records] == ["assistant", "tool", "tool", "tool", "tool"]
    assert_well_formed(records)


async def test_first_last_keeps_the_start_and_the_end_without_repeats(conn, counter):
    thread_id = await make_thread(conn, messages_for(["u", "a"] * 10))
    messages = MessageStore(conn)
    records = await get_memory_strategy("first_last", first=2, last=3).select(messages, thread_id, counter)
    assert [r["position"] for r in records] == [1, 2, 18, 19, 20]
    # Short thread: head and tail meet, nothing is repeated.
    records = await get_memory_strategy("first_last", first=8, last=15).select(messages, thread_id, counter)
    assert [r["position"] for r in records] == list(range(1, 21))


async def test_token_window_fits_the_budget_and_is_maximal(conn, counter):
    thread_id = await make_thread(conn, messages_for(PARALLEL * 3))
    messages = MessageStore(conn)
    total = sum(r["token_count"] for r in await get_memory_strategy("token_window", max_tokens=10**6)
                .select(messages, thread_id, counter))
    for budget in range(10, total + 20, 7):
        strategy = get_memory_strategy("token_window", max_tokens=budget)
        records = await strategy.select(messages, thread_id, counter)
        used = sum(r["token_count"] for r in records)
        assert_well_formed(records)
        if len(records) > 1 or used <= budget:
            assert used <= budget
        rows = await messages.list_light(thread_id)
        assert [r["id"] for r in records] == strategy.select_rows(rows)


async def test_token_window_reserve_leaves_room(conn, counter):
    thread_id = await make_thread(conn, messages_for(["u", "a"] * 20))
    messages = MessageStore(conn)
    strategy = get_memory_strategy("token_window", max_tokens=200)
    full = await strategy.select(messages, thread_id, counter)
    reserved = await strategy.select(messages, thread_id, counter, reserve_tokens=120)
    assert sum(r["token_count"] for r in reserved) <= 80
    assert len(reserved) < len(full)


async def test_newest_message_over_budget_is_sent_alone(conn, counter):
    specs = messages_for(["u", "a"]) + [{"role": "user", "content": "long " * 500}]
    thread_id = await make_thread(conn, specs)
    records = await get_memory_strategy("token_window", max_tokens=50).select(MessageStore(conn), thread_id, counter)
    assert [r["position"] for r in records] == [3]
    assert records[0]["token_count"] > 50


async def test_counts_are_computed_once_and_cached(conn, counter):
    specs = messages_for(PARALLEL)
    thread_id = await make_thread(conn, specs)
    messages = MessageStore(conn)
    assert all(r["token_count"] is None for r in await messages.list_light(thread_id))
    records = await get_memory_strategy("token_window", max_tokens=10**6).select(messages, thread_id, counter)
    assert len(records) == len(specs)
    for record in records:
        assert record["token_count"] == counter.count_message(record)
    cached = {r["id"]: r["token_count"] for r in await messages.list_light(thread_id)}
    assert cached == {r["id"]: r["token_count"] for r in records}


async def test_last_n_fills_counts_for_the_memory_panel(conn, counter):
    thread_id = await make_thread(conn, messages_for(["u", "a"] * 5))
    records = await get_memory_strategy("last_n", n=4).select(MessageStore(conn), thread_id, counter)
    assert all(isinstance(r["token_count"], int) and r["token_count"] > 0 for r in records)


class CountingStore(MessageStore):
    """A MessageStore that remembers how many light rows and records it handed out."""

    light = 0
    full = 0

    async def list_light(self, *args, **kwargs):
        rows = await super().list_light(*args, **kwargs)
        self.light += len(rows)
        return rows

    async def get_many(self, ids):
        records = await super().get_many(ids)
        self.full += len(records)
        return records


async def test_a_long_thread_is_read_only_at_the_end(conn, counter):
    specs = messages_for(["u", "a"] * 1000)
    thread_id = await make_thread(conn, specs)
    await MessageStore(conn).set_token_counts(
        {r["id"]: 10 for r in await MessageStore(conn).list_light(thread_id)}
    )
    for name, params in [("last_n", {"n": 20}), ("first_last", {}), ("token_window", {"max_tokens": 500})]:
        spy = CountingStore(conn)
        records = await get_memory_strategy(name, **params).select(spy, thread_id, counter)
        assert 0 < len(records) <= 50
        assert spy.light < 200, f"{name} read {spy.light} rows of a 2000-message thread"
        assert spy.full == len(records)


# --- what a provider would reject is left out ---------------------------------


async def test_broken_units_and_empty_failures_are_left_out(conn, counter):
    specs = messages_for(["u", ("partial", 3), "u", "err", "u", "int", "orphan", "u", ("t", 2)])
    thread_id = await make_thread(conn, specs)
    records = await get_memory_strategy("last_n", n=100).select(MessageStore(conn), thread_id, counter)
    assert_well_formed(records)
    kinds = [(r["role"], r["status"]) for r in records]
    assert ("assistant", "error") not in kinds
    assert ("assistant", "interrupted") in kinds  # partial text is kept
    assert sum(1 for r in records if r["role"] == "tool") == 2  # only the complete unit's results
    assert [r["content"] for r in records if r["role"] == "user"] == [
        s["content"] for s in specs if s["role"] == "user"
    ]


async def test_trailing_call_without_results_is_not_sent(conn, counter):
    specs = messages_for(["u", "a", "u"]) + [
        {"role": "assistant", "content": "let me look", "tool_calls": [{"id": "c9", "name": "f", "arguments": {}}]}
    ]
    thread_id = await make_thread(conn, specs)
    for name in ("last_n", "first_last", "token_window"):
        records = await get_memory_strategy(name).select(MessageStore(conn), thread_id, counter)
        assert [r["position"] for r in records] == [1, 2, 3]


async def test_empty_thread_gives_empty_context(conn, counter):
    thread_id = await make_thread(conn, [])
    for name in ("last_n", "first_last", "token_window"):
        assert await get_memory_strategy(name).select(MessageStore(conn), thread_id, counter) == []


# --- every cut point over parallel tool calls ----------------------------------


async def test_every_cut_point_keeps_tool_calls_with_their_results(conn, counter):
    specs = messages_for(PARALLEL)
    thread_id = await make_thread(conn, specs)
    messages = MessageStore(conn)
    rows = await messages.list_light(thread_id)
    size = len(specs)
    for n in range(1, size + 2):
        strategy = get_memory_strategy("last_n", n=n)
        records = await strategy.select(messages, thread_id, counter)
        assert_well_formed(records)
        assert len(records) <= n or [r["role"] for r in records][0] == "assistant"
        assert [r["id"] for r in records] == strategy.select_rows(rows)
        assert records[-1]["position"] == size
    for first in range(0, size + 1, 2):
        for last in range(1, size + 1, 3):
            strategy = get_memory_strategy("first_last", first=first, last=last)
            records = await strategy.select(messages, thread_id, counter)
            assert_well_formed(records)
            head = [r for r in records if r["position"] <= first]
            assert len(head) <= first
            assert [r["id"] for r in records] == strategy.select_rows(rows)


# --- random conversation shapes -------------------------------------------------

unit_kinds = st.one_of(
    st.sampled_from(["u", "a", "u", "a", "err", "int", "orphan"]),
    st.tuples(st.just("t"), st.integers(1, 4)),
    st.tuples(st.just("partial"), st.integers(1, 3)),
)
shapes = st.lists(unit_kinds, min_size=0, max_size=30)


@given(shape=shapes, n=st.integers(1, 40), first=st.integers(0, 8), last=st.integers(1, 20),
       budget=st.integers(1, 400), counts=st.lists(st.integers(1, 60), min_size=120, max_size=120))
@settings(max_examples=300, deadline=None)
def test_select_rows_never_breaks_a_unit(shape, n, first, last, budget, counts):
    specs = messages_for(shape)
    rows = light_rows_for(specs, counts[: len(specs)])
    for strategy in (get_memory_strategy("last_n", n=n), get_memory_strategy("first_last", first=first, last=last),
                     get_memory_strategy("token_window", max_tokens=budget)):
        ids = strategy.select_rows(rows)
        assert len(ids) == len(set(ids))
        # Light rows cannot show which call a result answers; select finishes the
        # job with drop_broken on the full records, as here.
        assert_well_formed(drop_broken(records_of(specs, ids)))
        if ids:
            assert rows[[r["id"] for r in rows].index(ids[0])]["role"] != "tool"


@given(shape=shapes, n=st.integers(1, 12), budget=st.integers(20, 300))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_select_on_sqlite_matches_select_rows_and_is_well_formed(shape, n, budget):
    specs = messages_for(shape)

    async def scenario(path: Path) -> None:
        conn = await connect(path)
        try:
            thread_id = await make_thread(conn, specs)
            messages, counter = MessageStore(conn), TokenCounter()
            for strategy in (get_memory_strategy("last_n", n=n), get_memory_strategy("first_last", first=2, last=n),
                             get_memory_strategy("token_window", max_tokens=budget)):
                records = await strategy.select(messages, thread_id, counter)
                assert_well_formed(records)
                sendable = drop_broken(await messages.list(thread_id))
                # The newest message that can be sent is always in the context.
                assert (records[-1]["id"] if records else None) == (sendable[-1]["id"] if sendable else None)
                if strategy.name == "last_n" and len(records) > n:
                    assert records[0]["tool_calls"] and all(r["role"] == "tool" for r in records[1:])
        finally:
            await conn.close()

    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(scenario(Path(tmp) / "db.sqlite"))
