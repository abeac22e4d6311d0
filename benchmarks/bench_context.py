"""Context assembly time of the memory strategies on a very long thread.

Builds one thread of 100,000 messages (``--small``: 10,000) in a real SQLite
file with a bulk loader (one transaction of ``executemany`` straight into the
store's tables, since 100,000 ``MessageStore.add`` calls would take minutes),
then times ``strategy.select(...)`` through the public API: the same call the
runner makes for every turn. Every fourth user turn the assistant calls 1-3
tools in parallel; messages average ~100 tokens.

Cases: ``token_window`` (100,000 tokens) with cached counts (target <= 20 ms
p50), ``last_n`` and ``first_last`` with their defaults, ``token_window`` cold
(no cached counts: it counts the window with tiktoken and writes the counts
back), and, for scale, loading the whole thread with ``MessageStore.list``.

    .venv/bin/python benchmarks/bench_context.py [--small] [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui_agents.memory import TokenCounter, get_memory_strategy  # noqa: E402
from tui_agents.store import AgentStore, MessageStore, ThreadStore, connect  # noqa: E402
from tui_agents.store.ids import new_id  # noqa: E402

WORDS = (
    "the a to of and in that is for it with as on be at by this we you not or from have are your can "
    "context window token model thread message memory tool call result query database index search "
    "python async await function return value error retry stream provider budget count cache sqlite "
    "London weather report quarterly revenue customer invoice deploy server latency benchmark"
).split()
TARGET_MS = 20.0


def text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)) + "."


# Words per message: (user, assistant, tool result) ranges. "short" is the
# stress case (~70 tokens a message, so a 100k window holds ~1,400 messages);
# "typical" is closer to real chats with verbose replies and tool output.
MIXES = {
    "short": ((8, 60), (20, 160), (30, 150)),
    "typical": ((10, 80), (60, 400), (40, 400)),
}


def conversation(n: int, mix: str = "short", seed: int = 7) -> list[dict]:
    """n messages: user/assistant turns, with parallel tool-call units now and then."""
    rng = random.Random(seed)
    user_words, reply_words, result_words = MIXES[mix]
    out: list[dict] = []
    turn = 0
    while len(out) < n:
        turn += 1
        out.append({"role": "user", "content": text(rng, rng.randint(*user_words))})
        if turn % 4 == 0:
            k = rng.randint(1, 3)
            calls = [{"id": f"call_{turn}_{j}", "name": "search_documents",
                      "arguments": {"query": text(rng, 4)}} for j in range(k)]
            out.append({"role": "assistant", "content": "", "tool_calls": calls})
            out += [{"role": "tool", "content": text(rng, rng.randint(*result_words)), "tool_call_id": c["id"]}
                    for c in calls]
        out.append({"role": "assistant", "content": text(rng, rng.randint(*reply_words))})
    out = out[:n]
    while out[-1]["role"] == "tool" or out[-1].get("tool_calls"):
        out.pop()  # never end on half a tool-call unit
    return out


def bulk_load(path: Path, thread_id: str, messages: list[dict], counter: TokenCounter) -> None:
    """Insert every message in one transaction, with token counts (the bulk loader)."""
    db = sqlite3.connect(path, isolation_level=None)
    now = time.time()
    try:
        db.execute("BEGIN")
        next_content = (db.execute("SELECT coalesce(max(id), 0) FROM contents").fetchone()[0]) + 1
        contents, rows = [], []
        for i, m in enumerate(messages):
            body = m["content"]
            contents.append((next_content + i, body, counter.count_message(m), len(body), len(body.encode())))
            rows.append((new_id("msg"), thread_id, i + 1, m["role"], next_content + i,
                         json.dumps(m["tool_calls"]) if m.get("tool_calls") else None,
                         m.get("tool_call_id"), "complete", now, now))
        db.executemany("INSERT INTO contents(id, text, token_count, chars, bytes) VALUES (?,?,?,?,?)", contents)
        db.executemany(
            "INSERT INTO messages(id, thread_id, position, role, content_id, tool_calls, tool_call_id, status, "
            "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
        db.execute("COMMIT")
    finally:
        db.close()


def forget_counts(path: Path) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("UPDATE contents SET token_count = NULL")
    db.close()


async def timed(fn, runs: int) -> tuple[list[float], object]:
    result = await fn()  # warm-up: page cache, statements, the encoding
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        result = await fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples, result


def p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def bench_mix(mix: str, size: int, runs: int, counter: TokenCounter) -> None:
    """Build one thread of ``size`` messages and print the table for it."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite"
        conn = await connect(path)
        agent = await AgentStore(conn).create(name="bench", system_prompt="Be brief.")
        thread_id = (await ThreadStore(conn).create(agent_id=agent["id"]))["id"]
        await conn.close()

        messages = conversation(size, mix)
        start = time.perf_counter()
        bulk_load(path, thread_id, messages, counter)
        load_s = time.perf_counter() - start

        conn = await connect(path)
        store = MessageStore(conn)
        total_tokens = sum(r["token_count"] for r in await store.list_light(thread_id))
        rows: list[tuple] = []

        async def reopen_without_counts() -> None:
            nonlocal conn, store
            await conn.close()
            forget_counts(path)
            conn = await connect(path)
            store = MessageStore(conn)

        async def case(name: str, strategy, n_runs: int, before=None) -> None:
            timings, records = [], []
            for i in range(n_runs + 1):  # the first run warms up caches and is not counted
                if before is not None:
                    await before()
                start = time.perf_counter()
                records = await strategy.select(store, thread_id, counter)
                if i:
                    timings.append((time.perf_counter() - start) * 1000)
            tokens = sum(r["token_count"] for r in records)
            rows.append((name, n_runs, len(records), tokens, p(timings, 0.5), p(timings, 0.95), min(timings)))

        await case("token_window 100k tokens, cached counts", get_memory_strategy("token_window"), runs)
        await case("token_window 8k tokens, cached counts", get_memory_strategy("token_window", max_tokens=8000),
                   runs)
        await case("last_n n=20", get_memory_strategy("last_n"), runs)
        await case("first_last first=2 last=10", get_memory_strategy("first_last"), runs)
        await case("token_window 100k tokens, cold (count + write back)", get_memory_strategy("token_window"),
                   max(3, runs // 10), before=reopen_without_counts)
        samples, everything = await timed(lambda: store.list(thread_id), max(3, runs // 10))
        rows.append(("for scale: MessageStore.list, whole thread", len(samples), len(everything), total_tokens,
                     p(samples, 0.5), p(samples, 0.95), min(samples)))
        await conn.close()

    print(f"\n# mix {mix!r}: {len(messages):,} messages, {total_tokens:,} tokens (o200k_base), "
          f"bulk load {load_s:.1f} s")
    print(f"{'case':<56} {'runs':>5} {'msgs':>6} {'tokens':>9} {'p50 ms':>8} {'p95 ms':>8} {'min ms':>8}")
    for name, n, msgs, tokens, p50, p95, fastest in rows:
        print(f"{name:<56} {n:>5} {msgs:>6} {tokens:>9,} {p50:>8.2f} {p95:>8.2f} {fastest:>8.2f}")
    cached = rows[0]
    verdict = "meets" if cached[4] <= TARGET_MS else "MISSES"
    print(f"token_window cached p50 {cached[4]:.2f} ms {verdict} the {TARGET_MS:.0f} ms target "
          f"(load average now {os.getloadavg()[0]:.1f})")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="10,000 messages and fewer runs")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--mix", choices=[*MIXES, "all"], default="all")
    args = parser.parse_args()
    size = 10_000 if args.small else 100_000
    runs = args.runs or (20 if args.small else 60)
    print(f"# {os.cpu_count()} cores, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
          f"load average {os.getloadavg()[0]:.1f} at start")
    counter = TokenCounter()
    await counter.load()
    for mix in MIXES if args.mix == "all" else [args.mix]:
        await bench_mix(mix, size, runs, counter)


if __name__ == "__main__":
    asyncio.run(main())
