"""Panel open times: the memory panel's in-context view and the tool-call inspector on big threads.

Measures mount-to-first-paint in a headless ``run_test``: from mounting the
panel until its data is in the table and the screen has refreshed once. The
token counter is loaded before the runs, as the app's is after start-up; the
thread's token counts are cached in the database, as the runner leaves them.

    .venv/bin/python benchmarks/bench_panels.py          # 10,000 messages, 1,000 tool calls, 15 runs
    .venv/bin/python benchmarks/bench_panels.py --small  # a quick check
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual.app import App, ComposeResult  # noqa: E402
from textual.containers import Vertical  # noqa: E402
from textual.widgets import Static  # noqa: E402

from tui_agents.memory import TokenCounter  # noqa: E402
from tui_agents.store import AgentStore, MessageStore, ThreadStore, UserMemoryStore, connect  # noqa: E402
from tui_agents.tui.screens.inspector import ToolInspector  # noqa: E402
from tui_agents.tui.screens.memory_panel import MemoryPanel  # noqa: E402

USER = "bench"


async def seed(path: Path, messages: int, tool_calls: int) -> tuple[str, str]:
    """A long chat thread and a thread with ``tool_calls`` calls (two parallel calls per assistant turn)."""
    conn = await connect(path)
    try:
        agent = await AgentStore(conn).create("bench", "You are a benchmark assistant. " * 20,
                                              provider="openai", model="gpt-4o")
        threads, store = ThreadStore(conn), MessageStore(conn)
        memory = UserMemoryStore(conn)
        for i in range(20):
            await memory.set(USER, f"fact{i}", f"value number {i}", category=("general", "work")[i % 2])
        chat = await threads.create(agent["id"], title="long chat", user_id=USER)
        for i in range(messages):
            role = "user" if i % 2 == 0 else "assistant"
            text = f"Message {i}: " + "some words about the topic at hand " * (3 + i % 7)
            await store.add(chat["id"], role, text, token_count=20 + i % 40)
        tools = await threads.create(agent["id"], title="tool heavy", user_id=USER)
        for turn in range(tool_calls // 2):
            await store.add(tools["id"], "user", f"Compute pair {turn}", token_count=8)
            calls = [{"id": f"call_{turn}_{k}", "name": "calculate", "arguments": {"expression": f"{turn}*{k}"}}
                     for k in range(2)]
            await store.add(tools["id"], "assistant", "", tool_calls=calls, token_count=30)
            for call in calls:
                await store.add(tools["id"], "tool", str(turn), tool_call_id=call["id"], token_count=6,
                                meta={"name": "calculate", "arguments": call["arguments"],
                                      "started_at": 1_700_000_000.0 + turn, "duration_ms": 1.5, "status": "ok"})
            await store.add(tools["id"], "assistant", f"Done {turn}", token_count=6)
        return chat["id"], tools["id"]
    finally:
        await conn.close()


class Host(App[None]):
    def __init__(self, db: Path) -> None:
        super().__init__()
        self.db = db
        self.conn: Any = None
        self.stores: Any = None

    def compose(self) -> ComposeResult:
        yield Vertical(id="slot")

    async def on_mount(self) -> None:
        from tui_agents.session import Stores

        self.conn = await connect(self.db)
        self.stores = Stores.on(self.conn)

    async def on_unmount(self) -> None:
        await self.conn.close()


class PaintWatch:
    """Records the first compositor refresh (a paint) of the screen after ``ready()`` became true."""

    def __init__(self, screen: Any) -> None:
        self.ready: Any = None
        self.painted_at: float | None = None
        original = screen._compositor_refresh

        def refresh() -> None:
            original()
            if self.painted_at is None and self.ready is not None and self.ready():
                self.painted_at = time.perf_counter()

        screen._compositor_refresh = refresh


async def time_open(pilot: Any, make: Any, ready: Any, watch: PaintWatch) -> float:
    """Seconds from mounting the panel to the first paint that shows its data."""
    slot = pilot.app.query_one("#slot")
    panel = make()
    watch.painted_at = None
    watch.ready = lambda: ready(panel)
    start = time.perf_counter()
    await slot.mount(panel)
    deadline = start + 30
    while watch.painted_at is None:
        if time.perf_counter() > deadline:
            raise TimeoutError("the panel never painted its data")
        await asyncio.sleep(0.001)
    elapsed = watch.painted_at - start
    watch.ready = None
    await panel.remove()
    await pilot.pause()
    return elapsed


def row(case: str, n: int, samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"{case:<44} {n:>7,} {statistics.median(ms):>8.1f} {p95:>8.1f}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="1,000 messages, 100 tool calls, 5 runs")
    args = parser.parse_args()
    messages, tool_calls, runs = (1_000, 100, 5) if args.small else (10_000, 1_000, 15)
    db = Path(tempfile.mkdtemp()) / "bench.db"
    t0 = time.perf_counter()
    chat_id, tools_id = await seed(db, messages, tool_calls)
    print(f"seeded {messages:,} messages + {tool_calls:,} tool calls in {time.perf_counter() - t0:.1f} s")
    counter = TokenCounter()
    await counter.load()

    cases = [
        ("memory panel in context, last_n n=20", messages, "last_n", {"n": 20}),
        ("memory panel in context, first_last 2+10", messages, "first_last", {"first": 2, "last": 10}),
        ("memory panel in context, token_window 100k", messages, "token_window", {"max_tokens": 100_000}),
    ]
    app = Host(db)
    lines = []
    async with app.run_test(size=(120, 40)) as pilot:
        while app.conn is None:
            await asyncio.sleep(0.01)
        paints = PaintWatch(app.screen)
        samples = [await time_open(pilot, lambda: Static("baseline"), lambda p: True, paints) for _ in range(runs)]
        lines.append(row("baseline: a Static (harness cost)", 1, samples))
        for case, n, name, params in cases:
            samples = [await time_open(
                pilot,
                lambda: MemoryPanel(app.stores, USER, chat_id, strategy=name, params=params, counter=counter),
                lambda p: p.context is not None and p.facts_loaded, paints) for _ in range(runs)]
            lines.append(row(case, n, samples))
        samples = [await time_open(pilot, lambda: ToolInspector(app.stores.messages, tools_id), lambda p: p.loaded, paints)
                   for _ in range(runs)]
        lines.append(row("inspector, whole thread", tool_calls, samples))
    print(f"{'case':<44} {'n':>7} {'p50 ms':>8} {'p95 ms':>8}")
    print("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
