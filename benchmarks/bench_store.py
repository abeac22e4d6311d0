#!/usr/bin/env python3
"""Store benchmark: the SQLite store at chat-history scale, measured through its public API.

Data: T threads and N messages of 20-2,000 characters (uniform length) cut from
a pool of Zipf-distributed text (5,000-word vocabulary, the top ranks real
English and programming words, plus rare identifiers such as ``err004211``).
One thread holds BIG messages (100,000 at full size), one holds 10,000 (the one
forked and branched); the rest are spread log-normally over the other threads,
interleaved in time.

Setup uses a bulk loader (plain sqlite3 ``executemany`` into the schema that
``connect`` created, FTS5 trigger off during the load, then an FTS 'rebuild'),
because building a million messages one ``MessageStore.add`` at a time would
take far longer. Every measured operation goes through the public store API
(``connect``, ``ThreadStore``, ``MessageStore``) on an aiosqlite connection.

Cases (ms; p50 and p95 over the runs, search over the 50 queries' medians):
  open + migration check   ``await connect(path)`` on the built file
  list 1,000 threads       ``threads.list(limit=1000)``
  last 50 of BIG           ``messages.list(big, limit=50)``
  fork 10k                 ``threads.fork(t)`` of the 10,000-message thread
  branch at 5,000          ``threads.branch(t, message 5,000)``
  add message              ``messages.add`` (one committed transaction)
  search newest            ``threads.search(q)`` (default order), 50 queries
  search best              ``threads.search(q, order="best")``, 50 queries

Usage: python benchmarks/bench_store.py [--small] [--messages N] [--threads T] [--db PATH] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui_agents.store import MessageStore, ThreadStore, connect  # noqa: E402
from tui_agents.store.ids import new_id, new_id_block  # noqa: E402

COMMON = (
    "the of and to a in is it you that he was for on are with as i his they be at one have this from or had by "
    "not word but what some we can out other were all there when up use your how said an each she which do their "
    "time if will way about many then them write would like so these her long make thing see him two has look "
    "more day could go come did number sound no most people my over know water than call first who may down side "
    "been now find any new work part take get place made live where after back little only round man year came "
    "show every good me give our under name very through just form sentence great think say help low line differ "
    "turn cause much mean before move right boy old too same tell does set three want air well also play small end "
    "put home read hand port large spell add even land here must big high such follow act why ask men change went "
    "light kind off need house picture try us again animal point mother world near build self earth father "
    "function error thread token branch search memory review model agent message tool call result file code "
    "test value list string return class import python data query index table commit merge config server client "
    "request response stream async await cache key user prompt system context window fork title summary"
).split()


class TextGen:
    """Deterministic Zipf text: a big pool of sentences, messages are slices of it."""

    def __init__(self, seed: int, pool_words: int, vocab_size: int = 5000, s: float = 1.05) -> None:
        rng = random.Random(seed)
        vocab = list(dict.fromkeys(COMMON))
        letters = "etaoinshrdlcumwfgypbvkjxqz"
        seen = set(vocab)
        while len(vocab) < vocab_size:
            w = "".join(rng.choice(letters[: rng.randint(8, 26)]) for _ in range(rng.randint(3, 10)))
            if w not in seen:
                seen.add(w)
                vocab.append(w)
        self.vocab = vocab
        cum = list(itertools.accumulate(1.0 / (r + 1) ** s for r in range(len(vocab))))
        words = rng.choices(vocab, cum_weights=cum, k=pool_words)
        self.rare: list[str] = []
        for pos in range(rng.randrange(250), pool_words, 250):
            x = rng.randrange(1_000_000)
            tok = (f"err{x:06d}", f"0x{x * 2654435761 % 2**32:08x}", f"file_{x}.py", f"v{x % 97}.{x % 31}")[x % 4]
            words[pos] = tok
            self.rare.append(tok)
        self.words = words
        parts, i = [], 0
        enders = [". ", ". ", ". ", "? ", "! ", ".\n\n", ", "]
        while i < pool_words:
            k = rng.randint(4, 24)
            sentence = " ".join(words[i:i + k])
            parts.append(sentence[:1].upper() + sentence[1:] + rng.choice(enders))
            i += k
        self.pool = "".join(parts)

    def message(self, rng: random.Random, lo: int = 20, hi: int = 2000) -> str:
        n = rng.randint(lo, hi)
        start = self.pool.find(" ", rng.randrange(len(self.pool) - hi - 64)) + 1
        end = self.pool.rfind(" ", start, start + n + 1)
        return self.pool[start:end if end > start + lo // 2 else start + n]


def thread_sizes(n_msgs: int, n_threads: int, big: int, fork: int, rng: random.Random) -> list[int]:
    """Messages per thread: [big, fork, then log-normal shares of the rest]."""
    rest = n_msgs - big - fork
    weights = [rng.lognormvariate(0, 1.2) for _ in range(n_threads - 2)]
    total = sum(weights)
    sizes = [max(1, int(rest * w / total)) for w in weights]
    sizes[0] += rest - sum(sizes)
    return [big, fork, *sizes]


def bulk_load(path: Path, gen: TextGen, n_msgs: int, n_threads: int, big: int, fork: int) -> list[str]:
    """Fill the migrated, empty database at ``path`` directly (setup only); returns thread ids."""
    rng = random.Random(11)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -262144")
    trigger_sql = db.execute("SELECT sql FROM sqlite_master WHERE name = 'contents_ai'").fetchone()[0]
    db.execute("DROP TRIGGER contents_ai")  # index everything once at the end instead
    sizes = thread_sizes(n_msgs, n_threads, big, fork, rng)
    thread_ids = [new_id("thr") for _ in sizes]
    order = [t for t, n in enumerate(sizes) for _ in range(n)]
    rng.shuffle(order)
    next_pos = [0] * len(sizes)
    t0 = 1_700_000_000.0
    last = [t0] * len(sizes)
    batch = 50_000
    for lo in range(0, n_msgs, batch):
        hi = min(n_msgs, lo + batch)
        texts = [gen.message(rng) for _ in range(hi - lo)]
        head, start = new_id_block("msg", hi - lo)
        contents, messages = [], []
        for k, i in enumerate(range(lo, hi)):
            t = order[i]
            next_pos[t] += 1
            ts = last[t] = t0 + i
            text = texts[k]
            contents.append((i + 1, thread_ids[t], next_pos[t], text, len(text), len(text.encode())))
            messages.append((f"{head}{start + k:010x}", thread_ids[t], next_pos[t],
                             "user" if next_pos[t] % 2 else "assistant", i + 1, ts, ts))
        db.execute("BEGIN")
        if lo == 0:
            db.executemany("INSERT INTO threads(id, title, created_at, updated_at, user_id) VALUES (?,?,?,?,?)",
                           [(tid, None, t0, t0, "bench") for tid in thread_ids])
        db.executemany("INSERT INTO contents(id, origin_thread, origin_position, text, chars, bytes) "
                       "VALUES (?,?,?,?,?,?)", contents)
        db.executemany("INSERT INTO messages(id, thread_id, position, role, content_id, status, created_at, "
                       "updated_at) VALUES (?,?,?,?,?, 'complete', ?, ?)", messages)
        db.execute("COMMIT")
        print(f"  loaded {hi:,} messages", end="\r", flush=True)
    db.execute("BEGIN")
    db.executemany("UPDATE threads SET updated_at = ?, title = ? WHERE id = ?",
                   [(last[t], gen.message(rng, 10, 60), thread_ids[t]) for t in range(len(sizes))])
    db.execute("INSERT INTO contents_fts(contents_fts) VALUES ('rebuild')")
    db.execute(trigger_sql)
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("ANALYZE")
    db.close()
    return thread_ids


def make_queries(gen: TextGen, rng: random.Random) -> list[tuple[str, str]]:
    """50 varied queries: common/mid/rare words, ids, phrases, two-letter and longer prefixes, hostile text."""
    v, words = gen.vocab, gen.words
    q = [("common word", w) for w in ["the", "of", "and", "to", "is", "that", "it", "you"]]
    q += [("mid word", w) for w in ["function", "error", "thread", "token", "branch", "search", "memory", "review"]]
    q += [("rare word", v[i]) for i in rng.sample(range(3000, len(v)), 6)]
    ids = [t for t in gen.rare if t.startswith(("err", "0x", "file_"))]
    q += [("rare id", t) for t in rng.sample(ids, 5)]
    q += [("common phrase", f'"{p}"') for p in ["of the", "in the", "it is", "to the"]]
    mids = set(v[40:400])
    pairs = [(a, b) for a, b in zip(words[:2_000_000], words[1:2_000_000]) if a in mids and b in mids]
    q += [("mid phrase", f'"{a} {b}"') for a, b in rng.sample(pairs, 3)]
    for _ in range(3):
        i = rng.randrange(len(words) - 3)
        while not all(w.isalpha() for w in words[i:i + 3]):
            i = rng.randrange(len(words) - 3)
        q.append(("3-word phrase", '"' + " ".join(words[i:i + 3]) + '"'))
    q += [("2-letter prefix", p) for p in ["th*", "co*", "an*"]]
    q += [("prefix", p) for p in ["mes*", "thr*", "sear*", "conf*"]]
    q += [("rare prefix", v[i][:5] + "*") for i in rng.sample(range(3000, len(v)), 2)]
    q += [("two words", "memory branch"), ("two words", "error token")]
    q += [("hostile", 'col:value AND( "of'), ("hostile", "NEAR/2 the*")]
    assert len(q) == 50, len(q)
    return q


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


async def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def table(headers: list[str], rows: list[list[object]]) -> str:
    cells = [[f"{c:,.2f}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]

    def line(r: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)])


async def measure(path: Path, thread_ids: list[str], gen: TextGen, runs: int) -> tuple[list[list[object]], list]:
    big, forked = thread_ids[0], thread_ids[1]
    rows: list[list[object]] = []
    opens = []
    for _ in range(max(runs, 5)):
        t0 = time.perf_counter()
        c = await connect(path)
        opens.append((time.perf_counter() - t0) * 1000)
        await c.close()
    conn = await connect(path)
    threads, messages = ThreadStore(conn), MessageStore(conn)
    n_threads = len(await threads.list(limit=100_000))

    async def list_threads():
        assert len(await threads.list(limit=1000)) == min(1000, n_threads)

    async def last50():
        got = await messages.list(big, limit=50)
        assert len(got) == 50

    await list_threads(), await last50()
    rows.append(["open + migration check", "", opens, 20])
    rows.append([f"list {min(1000, n_threads):,} threads", "", await timed(list_threads, max(runs, 10)), 10])
    big_n = await messages.count(big)
    rows.append([f"last 50 of {big_n:,}-msg thread", "", await timed(last50, max(runs, 10)), 5])

    # search on the corpus as built, before forks add shared copies
    queries = make_queries(gen, random.Random(5))
    per_query = []
    for kind, text in queries:
        rec = {"kind": kind, "query": text}
        for order in ("newest", "best"):
            async def q(order=order):
                rec[order + "_hits"] = len(await threads.search(text, order=order))
            rec[order] = statistics.median(await timed(q, 3))
        per_query.append(rec)
    rows.append(["search newest (50 queries)", "", [r["newest"] for r in per_query], (20, 60)])
    rows.append(["search best (50 queries)", "", [r["best"] for r in per_query], None])

    fork_n = await messages.count(forked)
    sources = await messages.list_light(forked)
    at = sources[min(4999, len(sources) - 1)]["id"]
    forks = []

    async def fork():
        forks.append(await threads.fork(forked))

    async def branch():
        forks.append(await threads.branch(forked, at))

    rows.append([f"fork {fork_n:,}-msg thread", "", await timed(fork, max(runs, 5)), 100])
    rows.append([f"branch at message {min(5000, fork_n):,}", "", await timed(branch, max(runs, 5)), 60])
    assert await messages.count(forks[0]["id"]) == fork_n
    target = forks[0]["id"]
    rows.append(["add message", "", await timed(lambda: messages.add(target, "user", gen.message(random.Random())),
                                                max(runs, 20)), None])
    rows.append(["search newest after forks", "",
                 [statistics.median(await timed(lambda t=t: threads.search(t), 3)) for _, t in queries], None])
    await conn.close()
    return rows, per_query


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", action="store_true", help="60k messages / 200 threads (under a minute)")
    ap.add_argument("--messages", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--db", type=Path, default=None, help="where to build (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the database file")
    ap.add_argument("--per-query", action="store_true", help="print each query's times")
    ap.add_argument("--reuse", action="store_true", help="measure an existing --db built by this script")
    ap.add_argument("--runs-detail", action="store_true", help="print every run of each case")
    args = ap.parse_args()
    n_msgs = args.messages or (60_000 if args.small else 1_000_000)
    n_threads = args.threads or (200 if args.small else 1000)
    big = min(100_000, n_msgs // 3)
    fork = min(10_000, n_msgs // 6)
    tmp = None
    if args.db is None:
        tmp = tempfile.mkdtemp(prefix="bench_store_")
        args.db = Path(tmp) / "bench.db"

    t0 = time.perf_counter()
    gen = TextGen(seed=1, pool_words=max(2_000_000, min(16_000_000, n_msgs * 16)))
    print(f"text pool {len(gen.pool) / 1e6:.0f} MB in {time.perf_counter() - t0:.1f} s", flush=True)
    if args.reuse:
        thread_ids = _biggest_threads(args.db)
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(str(args.db) + suffix).unlink(missing_ok=True)
        asyncio.run(_create_schema(args.db))
        t0 = time.perf_counter()
        thread_ids = bulk_load(args.db, gen, n_msgs, n_threads, big, fork)
        build_s = time.perf_counter() - t0
        size = sum(os.path.getsize(str(args.db) + s) for s in ("", "-wal") if os.path.exists(str(args.db) + s))
        print(f"\nbuilt {n_msgs:,} messages / {n_threads:,} threads in {build_s:.0f} s (bulk loader); "
              f"DB {size / 2**20:,.0f} MiB", flush=True)

    rows, per_query = asyncio.run(measure(args.db, thread_ids, gen, args.runs))
    out = []
    for name, _, xs, target in rows:
        p50, p95 = statistics.median(xs), pct(xs, 95)
        if isinstance(target, tuple):
            ok, tgt = p50 <= target[0] and p95 <= target[1], f"p50 {target[0]} / p95 {target[1]}"
        elif target is None:
            ok, tgt = None, ""
        else:
            ok, tgt = p50 <= target, f"{target}"
        out.append([name, len(xs), p50, p95, tgt, "" if ok is None else ("yes" if ok else "NO")])
        if args.runs_detail and len(xs) <= 20:
            print(f"  {name}: " + ", ".join(f"{x:.1f}" for x in xs))
    print(f"\nsqlite {sqlite3.sqlite_version}, Python {platform.python_version()}, {os.cpu_count()} cores; "
          f"{n_msgs:,} messages, {n_threads:,} threads")
    print(table(["case", "n", "p50 ms", "p95 ms", "target ms", "within"], out))
    kinds: dict[str, list[dict]] = {}
    for r in per_query:
        kinds.setdefault(r["kind"], []).append(r)
    print("\nsearch by query kind (median ms of the kind's queries)")
    print(table(["kind", "n", "newest", "best"],
                [[k, len(rs), statistics.median(r["newest"] for r in rs), statistics.median(r["best"] for r in rs)]
                 for k, rs in kinds.items()]))
    if args.per_query:
        print(table(["kind", "query", "newest ms", "hits", "best ms", "hits"],
                    [[r["kind"], r["query"][:30], r["newest"], r["newest_hits"], r["best"], r["best_hits"]]
                     for r in per_query]))
    if not args.keep:
        for suffix in ("", "-wal", "-shm"):
            Path(str(args.db) + suffix).unlink(missing_ok=True)
        if tmp:
            os.rmdir(tmp)


def _biggest_threads(path: Path) -> list[str]:
    """Thread ids of a reused database: the biggest, and the one closest to 10,000 messages."""
    db = sqlite3.connect(path)
    sizes = db.execute("SELECT thread_id, count(*) FROM messages WHERE thread_id IN (SELECT id FROM threads WHERE "
                       "forked_from IS NULL) GROUP BY thread_id ORDER BY count(*) DESC").fetchall()
    db.close()
    fork = min(sizes[1:], key=lambda r: abs(r[1] - 10_000))  # the loader's 10,000-message thread
    return [sizes[0][0], fork[0]]


async def _create_schema(path: Path) -> None:
    """Create the schema through the public connect()."""
    conn = await connect(path)
    await conn.close()


if __name__ == "__main__":
    main()
