"""Rate limiter and job queue throughput, in memory and on a private loopback redis-server.

Limiter: one op is ``check`` then ``record`` on one key (two calls, two Redis
round trips), issued one after another; also the one-call ``try_acquire``
(check and reserve atomically) and ``acquire`` + ``record``. The limits
(10^9 requests, 10^12 tokens per hour) are never reached, so every window
keeps one entry per op, as in the peers' benchmark. When the ``limits``
package is installed (``pip install 'limits[async-redis]'``), its moving
window ``hit`` + ``test`` runs in the same process for comparison; otherwise
those rows are skipped. A PING row gives one bare round trip for scale.

Queue: enqueue N no-op jobs one awaited call at a time, then start one worker
(concurrency 10, as in the saq/arq peer runs) and wait until every job is
completed; jobs/s = N / (first enqueue -> last completion).

Median of ``--runs`` runs (3; ``--small``: 1 run, smaller N).

    .venv/bin/python benchmarks/bench_limits.py [--small] [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.limits.redis_server import RedisServer  # noqa: E402
from tui_agents.limits import (  # noqa: E402
    JobQueue,
    MemoryQueueBackend,
    RateLimiter,
    RedisBackend,
    RedisQueueBackend,
)

RPM, TPM, WINDOW = 10**9, 10**12, 3600.0
Op = Callable[[str], Awaitable[object]]


def limiter_ops(limiter: RateLimiter) -> dict[str, Op]:
    async def check_record(key: str) -> None:
        await limiter.check(key, 10)
        await limiter.record(key, 10)

    async def try_acquire(key: str) -> None:
        await limiter.try_acquire(key, 10)

    async def acquire_record(key: str) -> None:
        await limiter.acquire(key, 10)
        await limiter.record(key, 12)

    return {"check + record": check_record, "try_acquire": try_acquire, "acquire + record": acquire_record}


async def rate(op: Op, n: int, key: str) -> float:
    """Ops per second of ``n`` sequential calls of ``op`` on one key."""
    started = time.perf_counter()
    for _ in range(n):
        await op(key)
    return n / (time.perf_counter() - started)


@dataclass
class Case:
    """One row of the table: ``run(n, tag)`` returns ops/s; runs of all cases are interleaved."""

    group: str
    op: str
    n: int
    run: Callable[[int, str], Awaitable[float]]
    rates: list[float] = field(default_factory=list)


def op_case(group: str, name: str, n: int, op: Op) -> Case:
    async def run(count: int, tag: str) -> float:
        return await rate(op, count, f"{group}:{name}:{tag}")

    return Case(group, name, n, run)


async def our_limiter_cases(url: str, n_mem: int, n_redis: int, closers: list[Any]) -> list[Case]:
    cases = []
    for storage, backend, n in (("memory", None, n_mem), ("redis", RedisBackend(url), n_redis)):
        limiter = RateLimiter(RPM, TPM, backend=backend, window=WINDOW)
        closers.append(limiter.aclose)
        cases += [op_case(f"tui_agents {storage}", name, n, op) for name, op in limiter_ops(limiter).items()]
    return cases


async def peer_limiter_cases(url: str, n_mem: int, n_redis: int, skipped: list[str]) -> list[Case]:
    """The ``limits`` package, moving window, hit + test per op (skipped when not installed)."""
    try:
        from limits import RateLimitItemPerHour
        from limits.aio.storage import MemoryStorage, RedisStorage
        from limits.aio.strategies import MovingWindowRateLimiter
    except ImportError:
        skipped.append("limits: not installed (pip install 'limits[async-redis]')")
        return []
    item = RateLimitItemPerHour(1_000_000)
    cases = []
    storages: list[tuple[str, Callable[[], Any], int]] = [("memory", MemoryStorage, n_mem)]
    for impl in ("coredis", "redispy"):
        storages.append((f"redis ({impl})", lambda impl=impl: RedisStorage(
            url.replace("redis://", "async+redis://"), implementation=impl), n_redis))  # fmt: skip
    for storage, factory, n in storages:
        try:
            limiter = MovingWindowRateLimiter(factory())

            async def hit_test(key: str, limiter: Any = limiter) -> None:
                await limiter.hit(item, key)
                await limiter.test(item, key)

            await rate(hit_test, 10, "peer:probe")
        except Exception as exc:  # e.g. that async client is not installed
            skipped.append(f"limits {storage}: {type(exc).__name__}: {exc}")
            continue
        cases.append(op_case(f"limits {storage}", "hit + test (moving window)", n, hit_test))
    return cases


async def ping_case(url: str, n: int, closers: list[Any]) -> Case:
    import redis.asyncio as aredis

    client = aredis.Redis.from_url(url)
    closers.append(client.aclose)

    async def ping(key: str) -> None:
        await client.ping()

    return op_case("redis.asyncio", "PING (1 round trip, for scale)", n, ping)


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

    op = "2,000 no-op jobs: enqueue -> all completed" if n == 2000 else "enqueue -> all completed"
    return [Case("JobQueue memory", op, n, memory), Case("JobQueue redis", op, n, redis)]


def table(rows: list[list[Any]]) -> str:
    header = ["case", "op", "n", "ops/s (median)", "µs/op", "runs (ops/s)"]
    lines = [header]
    for case, op, n, rates in rows:
        rates = list(rates)  # type: ignore[arg-type]
        med = statistics.median(rates) if rates else 0.0
        lines.append([
            str(case), str(op), f"{n:,}", f"{med:,.0f}" if med else "-", f"{1e6 / med:.1f}" if med else "-",
            "–".join(f"{r:,.0f}" for r in (min(rates), max(rates))) if rates else "-",
        ])  # fmt: skip
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    out = []
    for i, line in enumerate(lines):
        out.append(" | ".join(str(cell).ljust(widths[j]) for j, cell in enumerate(line)))
        if i == 0:
            out.append("-+-".join("-" * w for w in widths))
    return "\n".join(out)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", action="store_true", help="quick run: smaller N, one run")
    ap.add_argument("--runs", type=int, default=None)
    args = ap.parse_args()
    runs = args.runs or (1 if args.small else 3)
    n_mem, n_redis, n_jobs = (5_000, 1_000, 500) if args.small else (20_000, 5_000, 2_000)

    print(f"machine: {os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}, "
          f"{platform.system()} {platform.release()}; load average {os.getloadavg()[0]:.2f} at start")
    closers: list[Any] = []
    skipped: list[str] = []
    with RedisServer() as server:
        cases = await our_limiter_cases(server.url, n_mem, n_redis, closers)
        cases += await peer_limiter_cases(server.url, n_mem, n_redis, skipped)
        cases.append(await ping_case(server.url, n_redis, closers))
        cases += queue_cases(server.url, n_jobs)
        for case in cases:  # warm-up: connections, scripts, imports
            await case.run(min(case.n, 200), "warm")
        # Interleaved runs, so a burst of load from elsewhere hits every case alike.
        for run in range(runs):
            for case in cases:
                case.rates.append(await case.run(case.n, f"r{run}:{time.time_ns()}"))
            print(f"run {run + 1}/{runs} done", flush=True)
        for close in closers:
            await close()
    print()
    print(table([[c.group, c.op, c.n, c.rates] for c in cases]))
    for note in skipped:
        print(f"skipped: {note}")


if __name__ == "__main__":
    asyncio.run(main())
