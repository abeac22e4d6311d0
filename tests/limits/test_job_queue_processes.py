"""Redis-backed queue across worker processes: a worker killed with SIGKILL loses no job."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui_agents.limits import JobQueue, RedisQueueBackend

ROOT = Path(__file__).resolve().parents[2]
VISIBILITY = 1.0

pytestmark = pytest.mark.slow


class Workers:
    """Worker processes started by a test; every one still alive is killed at the end."""

    def __init__(self, url: str, queue_name: str) -> None:
        self.url, self.queue_name = url, queue_name
        self.procs: list[subprocess.Popen[str]] = []

    def start(self, tag: str, concurrency: int = 4) -> subprocess.Popen[str]:
        args = [sys.executable, "-m", "tests.limits._worker", self.url, self.queue_name, str(VISIBILITY),
                str(concurrency), tag]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
            if proc.stdout:
                proc.stdout.close()


@pytest.fixture
def workers(redis_url: str, request: pytest.FixtureRequest) -> Iterator[Workers]:
    group = Workers(redis_url, request.node.name[:40])
    yield group
    group.stop_all()


async def read_line(proc: subprocess.Popen[str], timeout: float = 30.0) -> str:
    """The worker's next stdout line, without blocking the event loop."""
    assert proc.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), timeout)
    assert line, "the worker process exited"
    return line.strip()


async def test_a_job_of_a_killed_worker_is_completed_by_another(workers: Workers) -> None:
    queue = JobQueue(RedisQueueBackend(workers.url, queue_name=workers.queue_name))
    first = workers.start("first")
    assert await read_line(first) == "ready"
    job_id = await queue.enqueue("hang", {"tag": "first"})
    assert await read_line(first) == "started first"  # the first worker holds the job now
    first.send_signal(signal.SIGKILL)
    first.wait(10)

    second = workers.start("second")
    assert await read_line(second) == "ready"
    job = await queue.wait_for(job_id, timeout=30)  # after the lease of the dead worker ran out
    assert (job.status, job.result, job.attempts) == ("completed", "second", 2)
    await queue.aclose()


async def test_a_thousand_jobs_over_three_workers_with_one_killed(workers: Workers) -> None:
    queue = JobQueue(RedisQueueBackend(workers.url, queue_name=workers.queue_name))
    ids = [await queue.enqueue("echo", {"i": i}) for i in range(1000)]
    procs = [workers.start(f"w{n}", concurrency=8) for n in range(3)]
    for proc in procs:
        assert await read_line(proc) == "ready"

    assert await read_line(procs[0]) == "busy"  # kill it while it runs jobs
    procs[0].send_signal(signal.SIGKILL)

    jobs = [await queue.wait_for(job_id, timeout=60) for job_id in ids]
    assert [job.status for job in jobs] == ["completed"] * 1000
    assert [job.result for job in jobs] == list(range(1000))
    assert any(job.attempts > 1 for job in jobs)  # the killed worker did hold jobs mid-run
    await queue.aclose()
