#!/usr/bin/env python3
"""Fill an aiagents-tui database with a big, realistic chat history.

The shape matches what the shared harness gives the peers (elia, oterm) in
``../shared/bench/bigdb/``: N threads of M messages, user/assistant alternating,
user first; user messages 20-600 characters, assistant messages 150-2,000
characters with some Markdown (headings, bullet lists, fenced code); English-like
text from a Zipf-weighted vocabulary; deterministic (``--seed``). Every row goes
through the public store API (``ThreadStore.create``, ``MessageStore.add``), so
the file is exactly what the app itself would have written, full-text index
included.

    python benchmarks/gen_bigdb.py --db PATH [--threads 1000] [--messages 100]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tui_agents.store import AgentStore, MessageStore, ThreadStore, connect  # noqa: E402

SYLLABLES = "ka lo mi re su ta ne vo pi da fe gu ho ji ry ze wa qu ex an th in er on st".split()
COMMON = "the of and to a in is it you that for on with as this be are at by or from".split()


class TextGen:
    """English-like prose: a Zipf-weighted vocabulary of made-up words plus common words."""

    def __init__(self, rng: random.Random, size: int = 6000) -> None:
        self.rng = rng
        words = {self._word() for _ in range(size * 2)}
        self.vocab = COMMON + sorted(words)[:size]
        self.weights = [1.0 / (rank + 1) ** 1.07 for rank in range(len(self.vocab))]

    def _word(self) -> str:
        return "".join(self.rng.choice(SYLLABLES) for _ in range(self.rng.randint(1, 4)))

    def sentence(self) -> str:
        words = self.rng.choices(self.vocab, self.weights, k=self.rng.randint(5, 18))
        return " ".join(words).capitalize() + self.rng.choice(".!?.")

    def prose(self, length: int) -> str:
        out: list[str] = []
        size = 0
        while size < length:
            s = self.sentence()
            out.append(s)
            size += len(s) + 1
        return " ".join(out)[:length].rstrip() or "ok"

    def user(self) -> str:
        return self.prose(self.rng.randint(20, 600))

    def assistant(self) -> str:
        target = self.rng.randint(150, 2000)
        parts: list[str] = []
        size = 0
        while size < target:
            kind = self.rng.random()
            if kind < 0.1:
                block = "## " + self.prose(self.rng.randint(10, 40))
            elif kind < 0.25:
                block = "\n".join("- " + self.prose(self.rng.randint(20, 80)) for _ in range(self.rng.randint(2, 5)))
            elif kind < 0.35:
                name = self.rng.choice(self.vocab[20:200])
                block = f"```python\ndef {name}(x):\n    return x * {self.rng.randint(2, 99)}\n```"
            else:
                block = self.prose(self.rng.randint(80, 400))
            parts.append(block)
            size += len(block) + 2
        return "\n\n".join(parts)


async def fill(db: Path, threads: int, messages: int, seed: int) -> dict[str, float]:
    """Write ``threads`` threads of ``messages`` messages into ``db``."""
    rng = random.Random(seed)
    gen = TextGen(rng)
    conn = await connect(str(db))
    try:
        agent = await AgentStore(conn).create("assistant", "You are a helpful assistant.")
        thread_store, message_store = ThreadStore(conn), MessageStore(conn)
        chars = 0
        for _ in range(threads):
            thread = await thread_store.create(agent["id"])
            for i in range(messages):
                text = gen.user() if i % 2 == 0 else gen.assistant()
                chars += len(text)
                await message_store.add(thread["id"], "user" if i % 2 == 0 else "assistant", text)
        return {"threads": threads, "messages": threads * messages, "chars": chars}
    finally:
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, type=Path)
    parser.add_argument("--threads", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    args.db.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    stats = asyncio.run(fill(args.db, args.threads, args.messages, args.seed))
    size = args.db.stat().st_size / 2**20
    print(f"{stats['threads']} threads, {stats['messages']} messages, {stats['chars'] / 1e6:.1f} M chars, "
          f"{size:.0f} MiB, {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
