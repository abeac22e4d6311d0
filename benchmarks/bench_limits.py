"""Rate limiter and job queue throughput beside their peers, on a private loopback redis-server.

Limiter (ops/s of sequential calls on one key, limits never reached, so every
window keeps one entry per op as in the peers' benchmark):

- ``check + record``: two calls, two round trips, paired with ``limits``'
  moving-window ``test`` + ``hit`` (two calls, two round trips).
- ``try_acquire``: one call (check and count atomically), paired with
  ``limits``' ``hit`` alone (one call).

Both sides run on redis-py's asyncio client with the same options (one held
connection, the same timeouts) and the same reply parser: ``--parser hiredis``,
``python`` (redis-py's own) or ``both`` (the default; every pair twice).
In memory, the same pairs with ``limits``' MemoryStorage.

Queue: N no-op jobs (2,000), enqueued one awaited call at a time, then one
worker (concurrency 10) until all are completed; jobs/s = N / (first enqueue
-> last completion). Beside it, in the same run, the peers' own runs of saq
(concurrency 10), arq (max_jobs 10, poll_delay 10 ms) and rq (SimpleWorker),
imported from the engine-peers benchmark (``--peers DIR``); they use redis-py
with hiredis when it is installed.

Every case runs once per round, rounds interleaved (a burst of load from
elsewhere hits every case alike); the table gives the median of the rounds
and every round.

    .venv/bin/python benchmarks/bench_limits.py [--runs 5] [--parser both] [--small]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.limits.redis_server import RedisServer  # noqa: E402
from tui_agents.limits import (  # noqa: E402
    JobQueue,
    MemoryQueueBackend,
    RateLimiter,
    RedisBackend,
    RedisConfig,
    RedisQueueBackend,
)

RPM, TPM, WINDOW = 10**9, 10**12, 3600.0
PEERS_DIR = "/work/shared/bench/engine-peers"
CHECK_RECORD_TARGET = 6_000  # ops/s on Redis (issue 6)
QUEUE_TARGET_RATIO = 3.0  # ours at least 3x the best peer (issue 12)
Op = Callable[[str], Awaitable[object]]


@dataclass
class Case:
    """One row: ``run(n, tag)`` returns ops/s; ``pair`` names the op it is compared on."""

    group: str
    op: str
    n: int
    run: Callable[[int, str], Awaitable[float]]
    pair: str = ""
    rates: list[float] = field(default_factory=list)
    flush: bool = False  # empty Redis before each run (the peers' queues share key names)

    @property
    def median(self) -> float:
        return statistics.median(self.rates) if self.rates else 0.0


async def rate(op: Op, n: int, key: str) -> float:
    """Ops per second of ``n`` sequential calls of ``op`` on one key."""
    started = time.perf_counter()
    for _ in range(n):
        await op(key)
    return n / (time.perf_counter() - started)


def op_case(group: str, name: str, n: int, op: Op, pair: str) -> Case:
    async def run(count: int, tag: str) -> float:
        return await rate(op, count, f"{group}:{name}:{tag}")

    return Case(group, name, n, run, pair)


# -- limiter ----------------------------------------------------------------------------------


def client_options(parser: str) -> dict[str, Any]:
    """The redis-py client options both limiters get: ours, then the same for ``limits``."""
    from redis._parsers import _AsyncHiredisParser, _AsyncRESP2Parser

    config = RedisConfig()
    return {
        "single_connection_client": True,
        "socket_timeout": config.socket_timeout,
        "socket_connect_timeout": config.socket_connect_timeout,
        "parser_class": _AsyncHiredisParser if parser == "hiredis" else _AsyncRESP2Parser,
    }


def our_ops(limiter: RateLimiter) -> list[tuple[str, str, Op]]:
    async def check_record(key: str) -> None:
        await limiter.check(key, 10)
        await limiter.record(key, 10)

    async def try_acquire(key: str) -> None:
        await limiter.try_acquire(key, 10)

    async def acquire_record(key: str) -> None:
        await limiter.acquire(key, 10)
        await limiter.record(key, 12)

    return [
        ("check + record (2 calls)", "2 calls", check_record),
        ("try_acquire (1 call)", "1 call", try_acquire),
        ("acquire + record (2 calls)", "", acquire_record),
    ]


def limits_ops(limiter: Any) -> list[tuple[str, str, Op]]:
    from limits import RateLimitItemPerHour

    item = RateLimitItemPerHour(1_000_000)

    async def test_hit(key: str) -> None:
        await limiter.test(item, key)
        await limiter.hit(item, key)

    async def hit(key: str) -> None:
        await limiter.hit(item, key)

    return [("test + hit (2 calls)", "2 calls", test_hit), ("hit (1 call)", "1 call", hit)]


async def limiter_cases(url: str, parsers: list[str], n_mem: int, n_redis: int, closers: list[Any],
                        notes: list[str]) -> list[Case]:  # fmt: skip
    import redis.asyncio as aredis

    cases: list[Case] = []
    memory = RateLimiter(RPM, TPM, window=WINDOW)
    cases += [op_case("tui_agents memory", name, n_mem, op, f"memory {p}") for name, p, op in our_ops(memory)]
    for parser in parsers:
        client = aredis.Redis.from_url(url, **client_options(parser))
        limiter = RateLimiter(RPM, TPM, backend=RedisBackend(url, client=client), window=WINDOW)
        closers.append(limiter.aclose)
        cases += [op_case(f"tui_agents redis [{parser}]", name, n_redis, op, f"redis {parser} {p}")
                  for name, p, op in our_ops(limiter)]  # fmt: skip
        ping_client = aredis.Redis.from_url(url, **client_options(parser))
        closers.append(ping_client.aclose)

        async def ping(key: str, client: Any = ping_client) -> None:
            await client.ping()

        cases.append(op_case(f"redis-py [{parser}]", "PING (1 round trip, for scale)", n_redis, ping, ""))
    try:
        from limits.aio.storage import MemoryStorage, RedisStorage
        from limits.aio.strategies import MovingWindowRateLimiter
    except ImportError:
        notes.append("limits: not installed (pip install 'limits[async-redis]'); its rows are missing")
        return cases
    peer = MovingWindowRateLimiter(MemoryStorage())
    cases += [op_case("limits memory", name, n_mem, op, f"memory {p}") for name, p, op in limits_ops(peer)]
    for parser in parsers:
        storage = RedisStorage(url.replace("redis://", "async+redis://"), implementation="redispy",
                               **client_options(parser))  # fmt: skip
        peer = MovingWindowRateLimiter(storage)
        closers.append(storage.bridge.storage.aclose)
        cases += [op_case(f"limits redis [{parser}]", name, n_redis, op, f"redis {parser} {p}")
                  for name, p, op in limits_ops(peer)]  # fmt: skip
    return cases


# -- queue ------------------------------------------------------------------------------------


async def queue_run(backend: Any, n: int) -> float:
    """Jobs/s from the first enqueue of ``n`` no-op jobs until the last one completed."""
    queue = JobQueue(backend, concurrency=10)
    done = asyncio.Event()
    completed = 0

    async def noop(payload: dict[str, object]) -> None:
        return None

    queue.register("noop", noop)
    watch = queue.watch(maxsize=n * 4)

    async def count() -> None:
        nonlocal completed
        async for job in watch:
            if job.status == "completed":
                completed += 1
                if completed == n:
                    done.set()

    counter = asyncio.create_task(count())
    started = time.perf_counter()
    for _ in range(n):
        await queue.enqueue("noop", {})
    await queue.start_worker()
    await asyncio.wait_for(done.wait(), 300)
    elapsed = time.perf_counter() - started
    watch.close()
    await counter
    await queue.aclose()
    return n / elapsed


def queue_cases(url: str, n: int) -> list[Case]:
    names = itertools.count()

    async def memory(count: int, tag: str) -> float:
        return await queue_run(MemoryQueueBackend(), count)

    async def redis(count: int, tag: str) -> float:
        return await queue_run(RedisQueueBackend(url, queue_name=f"bench{next(names)}"), count)

    op = f"{n:,} no-op jobs: enqueue -> all completed"
    return [Case("JobQueue memory", op, n, memory), Case("JobQueue redis", op, n, redis, "queue", flush=True)]


def peer_queue_cases(server: RedisServer, n: int, peers_dir: str, notes: list[str]) -> list[Case]:
    """saq, arq (poll 10 ms) and rq, run by the engine-peers benchmark's own functions."""
    if not Path(peers_dir, "bench_queues.py").is_file():
        notes.append(f"queue peers: {peers_dir}/bench_queues.py not found (--peers DIR); their rows are missing")
        return []
    sys.path.insert(0, peers_dir)  # rq's worker imports its job function from bench_queues by name
    import bench_queues as peers

    op = f"{n:,} no-op jobs: enqueue -> all completed"

    def rate_of(result: dict[str, Any]) -> float:
        return result["completed"] / result["t_total"]

    async def saq(count: int, tag: str) -> float:
        return rate_of(await peers.run_saq(server.url, count))

    async def arq(count: int, tag: str) -> float:
        return rate_of(await peers.run_arq(server.port, count, 0.01))

    async def rq(count: int, tag: str) -> float:
        return rate_of(peers.run_rq(server.port, count))  # sync: blocks this loop, nothing else runs

    return [
        Case("saq (concurrency 10)", op, n, saq, "queue peer", flush=True),
        Case("arq (max_jobs 10, poll 10 ms)", op, n, arq, "queue peer", flush=True),
        Case("rq (SimpleWorker)", op, n, rq, "queue peer", flush=True),
    ]


# -- report -----------------------------------------------------------------------------------


def versions() -> str:
    out = []
    for dist in ("redis", "hiredis", "limits", "saq", "arq", "rq"):
        try:
            out.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            out.append(f"{dist} not installed")
    return ", ".join(out)


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "load average %.2f, %.2f, %.2f" % os.getloadavg()


def table(cases: list[Case]) -> str:
    lines = ["| case | op | n | median/s | µs/op | every run (/s) |", "|---|---|---:|---:|---:|---|"]
    for c in cases:
        med = c.median
        runs = ", ".join(f"{r:,.0f}" for r in c.rates)
        lines.append(f"| {c.group} | {c.op} | {c.n:,} | {med:,.0f} | {1e6 / med:.1f} | {runs} |")
    return "\n".join(lines)


def comparisons(cases: list[Case]) -> str:
    lines = ["| pair | tui_agents (median/s) | limits (median/s) | ratio |", "|---|---:|---:|---:|"]
    for pair in dict.fromkeys(c.pair for c in cases if c.pair and "queue" not in c.pair):
        ours = [c for c in cases if c.pair == pair and c.group.startswith("tui_agents")]
        theirs = [c for c in cases if c.pair == pair and c.group.startswith("limits")]
        if ours and theirs:
            o, t = ours[0], theirs[0]
            lines.append(f"| {pair}: {o.op} / {t.op} | {o.median:,.0f} | {t.median:,.0f} | "
                         f"{o.median / t.median:.2f}x |")  # fmt: skip
    return "\n".join(lines)


def verdicts(cases: list[Case]) -> list[str]:
    out = []
    for c in cases:
        if c.group.startswith("tui_agents redis") and c.op.startswith("check + record"):
            met = "met" if c.median >= CHECK_RECORD_TARGET else "MISSED"
            out.append(f"check + record on Redis >= {CHECK_RECORD_TARGET:,}/s {c.group}: {c.median:,.0f} -> {met}")
    ours = [c for c in cases if c.pair == "queue"]
    peers = [c for c in cases if c.pair == "queue peer" and c.rates]
    if ours and peers:
        best = max(peers, key=lambda c: c.median)
        ratio = ours[0].median / best.median
        met = "met" if ratio >= QUEUE_TARGET_RATIO else "MISSED"
        out.append(f"Redis queue >= {QUEUE_TARGET_RATIO:g}x best peer: {ours[0].median:,.0f} vs {best.group} "
                   f"{best.median:,.0f} = {ratio:.2f}x -> {met}")  # fmt: skip
    return out


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", action="store_true", help="quick look: smaller N, one run")
    ap.add_argument("--runs", type=int, default=None, help="rounds (default 5; --small: 1)")
    ap.add_argument("--parser", choices=("hiredis", "python", "both"), default="both")
    ap.add_argument("--peers", default=PEERS_DIR, help="folder of the engine-peers bench_queues.py")
    ap.add_argument("--no-queue-peers", action="store_true")
    args = ap.parse_args()
    runs = args.runs or (1 if args.small else 5)
    n_mem, n_redis, n_jobs = (5_000, 1_000, 500) if args.small else (20_000, 5_000, 2_000)
    parsers = ["hiredis", "python"] if args.parser == "both" else [args.parser]

    print(f"date: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}")
    print(f"machine: {os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}, "
          f"{platform.system()} {platform.release()}; {versions()}")
    print(f"uptime at start: {uptime()}", flush=True)
    closers: list[Any] = []
    notes: list[str] = []
    with RedisServer() as server:
        version = subprocess.run([server.binary, "--version"], capture_output=True, text=True).stdout.split()[2]
        print(f"redis-server: {version}", flush=True)
        cases = await limiter_cases(server.url, parsers, n_mem, n_redis, closers, notes)
        cases += queue_cases(server.url, n_jobs)
        if not args.no_queue_peers:
            cases += peer_queue_cases(server, n_jobs, args.peers, notes)
        for case in cases:  # warm-up: connections, scripts, imports
            if case.flush:
                server.flush()
            await case.run(min(case.n, 200), "warm")
        for run in range(runs):
            for case in cases:
                if case.flush:
                    server.flush()
                case.rates.append(await case.run(case.n, f"r{run}:{time.time_ns()}"))
            print(f"round {run + 1}/{runs} done; {uptime()}", flush=True)
        for close in closers:
            await close()
    print(f"uptime at end: {uptime()}")
    print()
    print(table(cases))
    print()
    print(comparisons(cases))
    print()
    for line in verdicts(cases) + notes:
        print(f"- {line}")


if __name__ == "__main__":
    asyncio.run(main())
