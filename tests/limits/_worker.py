"""Run by test_job_queue_processes: a worker process on a Redis queue.

Usage: python -m tests.limits._worker URL QUEUE_NAME VISIBILITY_TIMEOUT CONCURRENCY
Prints "ready" once the worker runs, "started <tag>" when a "hang" job starts, and
"busy" from inside its 30th "echo" job. Handlers: "hang" blocks forever when the
payload names this process's tag (argv 5), otherwise returns the tag; "echo"
returns payload["i"] after a short pause.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from tui_agents.limits import JobQueue, RedisQueueBackend


async def main(url: str, queue_name: str, visibility: float, concurrency: int, tag: str) -> None:
    queue = JobQueue(RedisQueueBackend(url, queue_name=queue_name, visibility_timeout=visibility),
                     concurrency=concurrency, poll_interval=0.2)

    @queue.handler("hang")
    async def hang(payload: dict[str, Any]) -> str:
        print(f"started {payload['tag']}", flush=True)
        if payload["tag"] == tag:
            await asyncio.Event().wait()
        return tag

    echoed = 0

    @queue.handler("echo")
    async def echo(payload: dict[str, Any]) -> int:
        nonlocal echoed
        echoed += 1
        if echoed == 30:
            print("busy", flush=True)  # this job and its neighbours are running right now
        await asyncio.sleep(0.01)
        return payload["i"]

    await queue.start_worker()
    print("ready", flush=True)
    await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    url, queue_name, visibility, concurrency, tag = sys.argv[1:6]
    asyncio.run(main(url, queue_name, float(visibility), int(concurrency), tag))
