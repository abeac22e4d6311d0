"""Any sequence of sends, regenerations (some failing), choices and forks keeps every reply and shows one per slot."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_agents.store import MessageStore, ThreadStore, connect

send = st.tuples(st.just("send"), st.integers(1, 3))
regenerate = st.tuples(st.just("regenerate"), st.integers(0, 3))  # 0: fails before writing anything
choose = st.tuples(st.just("choose"), st.integers(0, 50), st.integers(0, 50))
fork = st.tuples(st.just("fork"))
programs = st.lists(st.one_of(send, regenerate, choose, fork), min_size=1, max_size=12)


class Model:
    """What the user should see: per turn, the user text, its alternatives (lists of row texts) and the choice."""

    def __init__(self) -> None:
        self.turns: list[dict] = []
        self.serial = 0

    def rows(self, k: int) -> list[str]:
        self.serial += 1
        return [f"r{self.serial}.{i}" for i in range(k)]

    def shown(self) -> list[str]:
        out: list[str] = []
        for turn in self.turns:
            out.append(turn["user"])
            if turn["alts"]:
                out.extend(turn["alts"][turn["chosen"]])
        return out


async def _apply(messages: MessageStore, threads: ThreadStore, thread_id: str, model: Model, op: tuple) -> None:
    if op[0] == "send":
        model.serial += 1
        user = f"u{model.serial}"
        await messages.add(thread_id, "user", user)
        rows = model.rows(op[1])
        for text in rows:
            await messages.add(thread_id, "assistant", text)
        model.turns.append({"user": user, "alts": [rows], "chosen": 0})
    elif op[0] == "regenerate" and model.turns:
        begun = await messages.begin_alternative(thread_id)
        rows = model.rows(op[1])
        for text in rows:
            await messages.add(thread_id, "assistant", text)
        if begun is not None:
            await messages.end_alternative(begun)
        if rows:
            last = model.turns[-1]
            last["alts"].append(rows)
            last["chosen"] = len(last["alts"]) - 1
    elif op[0] == "choose":
        slots = [t for t in model.turns if len(t["alts"]) > 1]
        if not slots:
            return
        turn = slots[op[1] % len(slots)]
        index = op[2] % len(turn["alts"])
        shown = await messages.list(thread_id)
        first = next(m for m in shown if m["content"] == turn["alts"][turn["chosen"]][0])
        result = await messages.select_alternative(first["id"], index)
        assert (result["index"], result["count"]) == (index, len(turn["alts"]))
        turn["chosen"] = index
    elif op[0] == "fork":
        copy = await threads.fork(thread_id)
        assert [m["content"] for m in await messages.list(copy["id"])] == model.shown()


async def _run(program: list[tuple]) -> None:
    conn = await connect(":memory:")
    try:
        messages, threads = MessageStore(conn), ThreadStore(conn)
        thread_id = (await threads.create(None))["id"]
        model = Model()
        for op in program:
            await _apply(messages, threads, thread_id, model, op)
            assert [m["content"] for m in await messages.list(thread_id)] == model.shown()
        slots = await messages.alternative_slots(thread_id)
        assert sorted(s["count"] for s in slots.values()) == sorted(
            len(t["alts"]) for t in model.turns if len(t["alts"]) > 1)
        stored = await (await conn.execute("SELECT count(*) FROM messages WHERE thread_id = ?", (thread_id,))).fetchone()
        assert stored[0] == sum(1 + sum(len(a) for a in t["alts"]) for t in model.turns)  # nothing deleted
    finally:
        await conn.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs)
def test_alternatives_follow_the_model(program):
    asyncio.run(_run(program))
