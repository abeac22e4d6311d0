"""Engine overhead of one agent turn, provider time excluded.

The provider is an in-process scripted ``Provider`` that yields a fixed reply
instantly, so the measured time is all engine: permission check, user message
save, context (agent record, user facts, memory strategy), reply save, tool
loop. Runs on a SQLite file in a temporary directory, on a thread that already
holds a realistic history.

    .venv/bin/python benchmarks/bench_engine.py           # 500 turns per case
    .venv/bin/python benchmarks/bench_engine.py --small   # 50 turns, quick check

Prints a plain table: case, n, p50, p95 (milliseconds). Target: p50 <= 5 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui_agents.memory import get_memory_strategy  # noqa: E402
from tui_agents.providers.base import (  # noqa: E402
    Provider,
    StopEvent,
    StreamEvent,
    TextDeltaEvent,
    ToolCallEndEvent,
    UsageEvent,
)
from tui_agents.runner import AgentRunner  # noqa: E402
from tui_agents.store import AgentStore, Auth, MessageStore, ThreadStore, UserMemoryStore, connect  # noqa: E402
from tui_agents.tools import tool  # noqa: E402
from tui_agents.types import Message, ToolCall, ToolDefinition, Usage  # noqa: E402

REPLY = "Sure. Here is a short answer of a few dozen words, streamed in pieces like a real model would. " * 3
USER = "Can you explain what the engine does on every turn, briefly and clearly?"
HISTORY_PAIRS = 100  # 200 messages already in the thread


class InstantProvider(Provider):
    """Yields a fixed reply in 8-character pieces with no I/O; calls a tool first when asked to."""

    name = "instant"
    model = "instant-1"

    def __init__(self, tool_name: str | None = None) -> None:
        self.tool_name = tool_name

    async def stream(
        self,
        messages: Sequence[Message],
        system: str | None = None,
        tools: Sequence[ToolDefinition] | None = None,
        **options: Any,
    ) -> AsyncIterator[StreamEvent]:
        if self.tool_name and messages and messages[-1].role == "user":
            call = ToolCall(id=f"call_{len(messages)}", name=self.tool_name, arguments={"city": "Paris"})
            yield ToolCallEndEvent(index=0, call=call)
            yield UsageEvent(Usage(input_tokens=400, output_tokens=12))
            yield StopEvent("tool_use")
            return
        for i in range(0, len(REPLY), 8):
            yield TextDeltaEvent(REPLY[i : i + 8])
        yield UsageEvent(Usage(input_tokens=400, output_tokens=60))
        yield StopEvent("end_turn")

    async def list_models(self) -> list[str]:
        return [self.model]


@tool(description="Weather for a city (benchmark).", name="bench_weather")
async def bench_weather(city: str) -> str:
    return f"Sunny in {city}"


async def _thread(conn: Any, name: str) -> str:
    agent = await AgentStore(conn).create(name=name, system_prompt="You are a helpful assistant. " * 20)
    thread = await ThreadStore(conn).create(agent["id"], title="Benchmark", user_id="bench")
    messages = MessageStore(conn)
    for i in range(HISTORY_PAIRS):
        await messages.add(thread["id"], "user", f"{USER} ({i})")
        await messages.add(thread["id"], "assistant", REPLY)
    return thread["id"]


async def _case(conn: Any, name: str, turns: int, **kw: Any) -> list[float]:
    thread_id = await _thread(conn, name)
    auth = Auth(conn)
    await auth.assign_role("bench", "owner", "thread", thread_id)
    runner = AgentRunner(conn, auth, kw.pop("provider", InstantProvider()), kw.pop("memory"), **kw)
    await runner.run(thread_id, "bench", "warm up")  # loads the token encoding, caches the agent record
    times = []
    for i in range(turns):
        started = time.perf_counter()
        await runner.run(thread_id, "bench", f"{USER} #{i}")
        times.append((time.perf_counter() - started) * 1000)
    return times


def _row(case: str, times: list[float]) -> str:
    p50 = statistics.median(times)
    p95 = statistics.quantiles(times, n=20)[18] if len(times) >= 20 else max(times)
    return f"{case:<44} {len(times):>5} {p50:>8.2f} {p95:>8.2f}"


async def _stall_watch_cost(events: int = 20000) -> tuple[float, float]:
    """Microseconds per stream event read directly and through the runner's stall watch (median of 5)."""
    from tui_agents.reply_writer import StallWatch as _StallWatch

    class _Writer:
        id = None

    async def stream() -> AsyncIterator[int]:
        for i in range(events):
            yield i
            if i % 8 == 0:
                await asyncio.sleep(0)  # a network read suspends now and then

    async def direct() -> None:
        async for _ in stream():
            pass

    async def watched() -> None:
        async for _ in _StallWatch(stream(), 20.0, "thr", _Writer()).events():  # type: ignore[arg-type]
            pass

    costs: dict[str, list[float]] = {"direct": [], "watched": []}
    for _ in range(5):
        for name, run in (("direct", direct), ("watched", watched)):
            started = time.perf_counter()
            await run()
            costs[name].append((time.perf_counter() - started) / events * 1e6)
    return statistics.median(costs["direct"]), statistics.median(costs["watched"])


async def main(turns: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        conn = await connect(Path(tmp) / "bench.db")
        await UserMemoryStore(conn).set("bench", "name", "Ada")
        await UserMemoryStore(conn).set("bench", "style", "concise", category="preferences")
        cases = [
            ("turn, last_n(20), auth, user facts", {"memory": get_memory_strategy("last_n", n=20)}),
            ("same, stall watch off (stall_after=None)", {"memory": get_memory_strategy("last_n", n=20),
                                                          "stall_after": None}),
            ("turn, token_window(8000)", {"memory": get_memory_strategy("token_window", max_tokens=8000)}),
            ("turn with one tool call (2 provider calls)", {
                "memory": get_memory_strategy("last_n", n=20),
                "provider": InstantProvider(tool_name="bench_weather"),
                "tools": ["bench_weather"],
            }),
        ]
        print(f"{'case':<44} {'n':>5} {'p50 ms':>8} {'p95 ms':>8}")
        for index, (case, kw) in enumerate(cases):
            times = await _case(conn, f"bench{index}", turns, **kw)
            print(_row(case, times))
        await conn.close()
    plain, watched = await _stall_watch_cost()
    print(f"stall watch: {plain:.2f} us/event read directly, {watched:.2f} us/event through the watch")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="50 turns per case instead of 500")
    args = parser.parse_args()
    asyncio.run(main(50 if args.small else 500))
