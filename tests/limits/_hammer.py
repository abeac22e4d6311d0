"""Run by test_rate_limiter_processes: hammer one Redis-backed limiter, print admission times.

Usage: python -m tests.limits._hammer URL KEY RPM WINDOW SECONDS
Prints one line per admitted request: the Redis server time of the admission in µs.
"""

from __future__ import annotations

import asyncio
import sys
import time

from tui_agents.limits import RedisBackend


async def main(url: str, key: str, rpm: int, window: float, seconds: float) -> None:
    backend = RedisBackend(url)
    admitted: list[int] = []
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            wait, at = await backend.try_acquire_timed(key, rpm, None, window, 1)
            if wait == 0.0:
                admitted.append(round(at * 1_000_000))
            else:
                # Sleep a little less than told at times, so processes collide at the edge.
                await asyncio.sleep(wait * 0.9)
    finally:
        await backend.aclose()
    sys.stdout.write("".join(f"{t}\n" for t in admitted))


if __name__ == "__main__":
    url, key, rpm, window, seconds = sys.argv[1:6]
    asyncio.run(main(url, key, int(rpm), float(window), float(seconds)))
