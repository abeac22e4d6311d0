"""The job queue in one process, on the memory backend and on a real redis-server."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tui_agents.errors import InvalidArgumentError, NotFoundError
from tui_agents.limits import Job, JobQueue, JobStatus, MemoryQueueBackend, RedisQueueBackend

MakeQueue = Callable[..., JobQueue]
_names = itertools.count()


@pytest.fixture(params=["memory", "redis"])
async def make_queue(request: pytest.FixtureRequest) -> AsyncIterator[MakeQueue]:
    """Build queues on the parametrized backend; ``same_as`` shares another queue's storage."""
    made: list[JobQueue] = []
    queue_name = f"test{next(_names)}"

    def make(concurrency: int = 4, result_ttl: float = 3600.0, **options: Any) -> JobQueue:
        if request.param == "redis":
            backend: Any = RedisQueueBackend(
                request.getfixturevalue("redis_url"), queue_name=queue_name, visibility_timeout=5.0,
                result_ttl=result_ttl,
            )  # fmt: skip
        elif made:
            backend = made[0].backend
        else:
            backend = MemoryQueueBackend(result_ttl=result_ttl)
        options.setdefault("retry_base_delay", 0.01)
        options.setdefault("poll_interval", 0.2)
        queue = JobQueue(backend, concurrency=concurrency, **options)
        made.append(queue)
        return queue

    yield make
    for queue in made:
        await queue.stop_worker(grace=1.0)
    for backend in {id(q.backend): q.backend for q in made}.values():
        await backend.aclose()


async def until(predicate: Callable[[], Any], timeout: float = 10.0) -> None:
    """Poll ``predicate`` until it is true, failing after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_a_job_runs_and_keeps_its_result(make_queue: MakeQueue) -> None:
    queue = make_queue()

    @queue.handler("double")
    async def double(payload: dict[str, Any]) -> dict[str, int]:
        return {"value": payload["n"] * 2}

    job_id = await queue.enqueue("double", {"n": 21})
    assert job_id.startswith("job_")
    pending = await queue.get_status(job_id)
    assert (pending.status, pending.attempts, pending.payload) == ("pending", 0, {"n": 21})
    await queue.start_worker()
    job = await queue.wait_for(job_id, timeout=10)
    assert job.status == JobStatus.COMPLETED and job.result == {"value": 42}
    assert job.attempts == 1 and job.error is None
    assert job.created_at <= job.started_at <= job.finished_at == job.updated_at


async def test_retries_then_success(make_queue: MakeQueue) -> None:
    queue = make_queue()
    calls = 0

    @queue.handler("flaky")
    async def flaky(payload: dict[str, Any]) -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionError(f"try {calls} failed")
        return "done"

    job_id = await queue.enqueue("flaky", {}, max_retries=3)
    await queue.start_worker()
    job = await queue.wait_for(job_id, timeout=10)
    assert (job.status, job.attempts, job.result) == ("completed", 3, "done")


async def test_exhausted_retries_fail_with_the_error_text(make_queue: MakeQueue) -> None:
    queue = make_queue()

    @queue.handler("broken")
    async def broken(payload: dict[str, Any]) -> None:
        raise ValueError("the thread has no messages")

    job_id = await queue.enqueue("broken", {"thread_id": "thr_1"}, max_retries=2)
    await queue.start_worker()
    job = await queue.wait_for(job_id, timeout=10)
    assert (job.status, job.attempts) == ("failed", 3)
    assert job.error == "ValueError: the thread has no messages"


async def test_retries_back_off_exponentially() -> None:
    queue = JobQueue(retry_base_delay=1.0, retry_max_delay=5.0)
    for attempt, full in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (9, 5.0)):
        delay = queue._backoff(attempt)
        assert full / 2 <= delay <= full  # jitter takes up to half off


async def test_an_unknown_handler_fails_the_job_clearly(make_queue: MakeQueue) -> None:
    queue = make_queue()
    job_id = await queue.enqueue("no_such_job", {})
    await queue.start_worker()
    job = await queue.wait_for(job_id, timeout=10)
    assert job.status == "failed" and job.attempts == 1
    assert "No handler is registered for job 'no_such_job'" in (job.error or "")


async def test_sync_handlers_run_too(make_queue: MakeQueue) -> None:
    queue = make_queue()
    queue.register("upper", lambda payload: payload["text"].upper())
    job_id = await queue.enqueue("upper", {"text": "hi"})
    await queue.start_worker()
    assert (await queue.wait_for(job_id, timeout=10)).result == "HI"


async def test_stop_worker_lets_a_running_job_finish(make_queue: MakeQueue) -> None:
    queue = make_queue()
    started, release = asyncio.Event(), asyncio.Event()

    @queue.handler("slow")
    async def slow(payload: dict[str, Any]) -> str:
        started.set()
        await release.wait()
        return "finished"

    job_id = await queue.enqueue("slow", {})
    await queue.start_worker()
    await asyncio.wait_for(started.wait(), 10)
    assert queue.running_count == 1
    stopping = asyncio.create_task(queue.stop_worker(grace=10))
    await asyncio.sleep(0.05)
    assert not stopping.done()  # it waits for the job
    release.set()
    await asyncio.wait_for(stopping, 10)
    job = await queue.get_status(job_id)
    assert (job.status, job.result) == ("completed", "finished")
    assert queue.running_count == 0 and not queue.worker_running


async def test_a_job_still_running_after_the_grace_goes_back_to_the_queue(make_queue: MakeQueue) -> None:
    queue = make_queue()
    started = asyncio.Event()
    stuck = True

    @queue.handler("stuck")
    async def handler(payload: dict[str, Any]) -> str:
        started.set()
        if stuck:
            await asyncio.Event().wait()
        return "second worker"

    job_id = await queue.enqueue("stuck", {})
    other_id = await queue.enqueue("stuck", {})
    queue.concurrency = 1
    await queue.start_worker()
    await asyncio.wait_for(started.wait(), 10)
    await queue.stop_worker(grace=0.1)
    job = await queue.get_status(job_id)
    assert (job.status, job.attempts) == ("pending", 0)  # a released run does not count
    assert (await queue.get_status(other_id)).status == "pending"

    stuck = False
    await queue.start_worker()
    done = [await queue.wait_for(i, timeout=10) for i in (job_id, other_id)]
    assert [(j.status, j.attempts, j.result) for j in done] == [("completed", 1, "second worker")] * 2


async def test_watch_sees_every_status_change_in_order(make_queue: MakeQueue) -> None:
    queue = make_queue()
    seen: list[Job] = []

    @queue.handler("flaky_once")
    async def flaky_once(payload: dict[str, Any]) -> str:
        if not any(j.status == "pending" and j.error for j in seen):
            raise RuntimeError("first run fails")
        return "ok"

    watch = queue.watch()

    async def collect() -> None:
        async for job in watch:
            seen.append(job)

    collector = asyncio.create_task(collect())
    job_id = await queue.enqueue("flaky_once", {})
    await queue.start_worker()
    await queue.wait_for(job_id, timeout=10)
    await until(lambda: seen and seen[-1].status == "completed")
    watch.close()
    await asyncio.wait_for(collector, 5)
    assert [(j.status, j.attempts) for j in seen] == [
        ("pending", 0), ("processing", 1), ("pending", 1), ("processing", 2), ("completed", 2),
    ]  # fmt: skip
    assert {j.id for j in seen} == {job_id}


async def test_running_count_follows_the_worker(make_queue: MakeQueue) -> None:
    queue = make_queue(concurrency=3)
    release = asyncio.Event()

    @queue.handler("wait")
    async def wait(payload: dict[str, Any]) -> None:
        await release.wait()

    ids = [await queue.enqueue("wait", {"i": i}) for i in range(5)]
    await queue.start_worker()
    await until(lambda: queue.running_count == 3)  # bounded by the concurrency
    release.set()
    for job_id in ids:
        assert (await queue.wait_for(job_id, timeout=10)).status == "completed"
    await until(lambda: queue.running_count == 0)


async def test_an_unknown_job_id_is_not_found(make_queue: MakeQueue) -> None:
    queue = make_queue()
    with pytest.raises(NotFoundError):
        await queue.get_status("job_nope")


async def test_finished_jobs_expire_after_the_result_ttl(make_queue: MakeQueue) -> None:
    queue = make_queue(result_ttl=1.0)
    queue.register("noop", lambda payload: None)
    job_id = await queue.enqueue("noop", {})
    await queue.start_worker()
    await queue.wait_for(job_id, timeout=10)

    async def gone() -> None:
        while True:
            try:
                await queue.get_status(job_id)
            except NotFoundError:
                return
            await asyncio.sleep(0.1)

    await asyncio.wait_for(gone(), 10)


async def test_concurrency_is_bounded_and_everything_completes(make_queue: MakeQueue) -> None:
    queue = make_queue(concurrency=4)
    running = peak = 0

    @queue.handler("tick")
    async def tick(payload: dict[str, Any]) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.001)
        running -= 1
        return payload["i"]

    ids = [await queue.enqueue("tick", {"i": i}) for i in range(100)]
    await queue.start_worker()
    results = [(await queue.wait_for(job_id, timeout=20)).result for job_id in ids]
    assert results == list(range(100))
    assert peak == 4


async def test_bad_arguments_are_refused(make_queue: MakeQueue) -> None:
    queue = make_queue()
    with pytest.raises(InvalidArgumentError):
        await queue.enqueue("", {})
    with pytest.raises(InvalidArgumentError):
        await queue.enqueue("x", {}, max_retries=-1)


# -- Redis only ---------------------------------------------------------------------------


async def test_redis_payloads_and_results_must_be_json(redis_url: str) -> None:
    queue = JobQueue(RedisQueueBackend(redis_url, queue_name="json"))
    with pytest.raises(InvalidArgumentError, match="JSON"):
        await queue.enqueue("x", {"when": object()})
    queue.register("odd", lambda payload: object())
    job_id = await queue.enqueue("odd", {})
    await queue.start_worker()
    job = await queue.wait_for(job_id, timeout=10)
    assert job.status == "failed" and "could not be stored as JSON" in (job.error or "")
    await queue.aclose()


async def test_redis_jobs_outlive_the_process_that_queued_them(redis_url: str) -> None:
    producer = JobQueue(RedisQueueBackend(redis_url, queue_name="persist"))
    ids = [await producer.enqueue("echo", {"i": i}) for i in range(3)]
    await producer.aclose()  # e.g. the TUI exits before any worker ran

    consumer = JobQueue(RedisQueueBackend(redis_url, queue_name="persist"))
    consumer.register("echo", lambda payload: payload["i"])
    await consumer.start_worker()
    assert [(await consumer.wait_for(i, timeout=10)).result for i in ids] == [0, 1, 2]
    await consumer.aclose()


async def test_redis_results_are_kept_for_the_configured_ttl(redis_url: str, redis_server: Any) -> None:
    import redis.asyncio as aredis

    backend = RedisQueueBackend(redis_url, queue_name="ttl", result_ttl=600)
    queue = JobQueue(backend)
    queue.register("noop", lambda payload: "kept")
    job_id = await queue.enqueue("noop", {})
    client = aredis.Redis.from_url(redis_url)
    key = f"tui_agents:q:{{ttl}}:job:{job_id}"
    assert await client.ttl(key) == -1  # pending jobs never expire
    await queue.start_worker()
    await queue.wait_for(job_id, timeout=10)
    assert 0 < await client.ttl(key) <= 600
    await client.aclose()
    await queue.aclose()


async def test_errors_no_retry_can_fix_fail_at_once(make_queue: MakeQueue) -> None:
    queue = make_queue()

    @queue.handler("gone")
    async def gone(payload: dict[str, Any]) -> None:
        raise NotFoundError("Thread thr_x does not exist.")

    job_id = await queue.enqueue("gone", {}, max_retries=5)
    await queue.start_worker()
    job = await queue.wait_for(job_id, timeout=10)
    assert (job.status, job.attempts, job.error) == ("failed", 1, "NotFoundError: Thread thr_x does not exist.")


# -- timeouts -------------------------------------------------------------------------------


async def test_a_job_past_its_timeout_is_cancelled_and_fails_after_its_retries(make_queue: MakeQueue) -> None:
    queue = make_queue(job_timeout=0.2)
    cancelled = 0

    @queue.handler("forever")
    async def forever(payload: dict[str, Any]) -> None:
        nonlocal cancelled
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled += 1
            raise

    job_id = await queue.enqueue("forever", {}, max_retries=1)
    await queue.start_worker()
    job = await queue.wait_for(job_id, timeout=10)
    assert (job.status, job.attempts, cancelled) == ("failed", 2, 2)
    assert job.error == "JobTimeoutError: The job ran longer than its timeout of 0.2 s and was stopped."


async def test_the_job_timeout_beats_the_handler_timeout_which_beats_the_queue_default(
    make_queue: MakeQueue,
) -> None:
    queue = make_queue(job_timeout=0.1)

    @queue.handler("nap", timeout=5.0)
    async def nap(payload: dict[str, Any]) -> str:
        await asyncio.sleep(payload["s"])
        return "rested"

    queue.register("short_nap", nap)  # only the queue's 0.1 s
    by_handler = await queue.enqueue("nap", {"s": 0.3}, max_retries=0)
    by_queue = await queue.enqueue("short_nap", {"s": 0.3}, max_retries=0)
    by_job = await queue.enqueue("nap", {"s": 0.3}, max_retries=0, timeout=0.1)
    assert (await queue.get_status(by_job)).timeout == 0.1
    await queue.start_worker()
    done = [await queue.wait_for(i, timeout=10) for i in (by_handler, by_queue, by_job)]
    assert [j.status for j in done] == ["completed", "failed", "failed"]
    assert "JobTimeoutError" in (done[1].error or "") and "0.1 s" in (done[2].error or "")


async def test_handlers_that_ignore_cancellation_do_not_take_every_slot(make_queue: MakeQueue) -> None:
    queue = make_queue(concurrency=2, job_timeout=0.2)
    release = asyncio.Event()

    @queue.handler("stubborn")
    async def stubborn(payload: dict[str, Any]) -> None:
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue  # swallows every cancellation

    queue.register("quick", lambda payload: "done")
    stuck = [await queue.enqueue("stubborn", {}, max_retries=0) for _ in range(2)]
    quick = await queue.enqueue("quick", {})
    await queue.start_worker()
    try:
        assert (await queue.wait_for(quick, timeout=10)).result == "done"
        assert [(await queue.wait_for(i, timeout=10)).status for i in stuck] == ["failed", "failed"]
        await asyncio.wait_for(queue.stop_worker(grace=0.1), 5)  # nothing left to wait for
    finally:
        release.set()


async def test_a_blocking_sync_handler_times_out_and_frees_its_slot(make_queue: MakeQueue) -> None:
    import time

    queue = make_queue(concurrency=1)
    queue.register("block", lambda payload: time.sleep(0.8), timeout=0.1)
    queue.register("quick", lambda payload: "done")
    blocked = await queue.enqueue("block", {}, max_retries=0)
    quick = await queue.enqueue("quick", {})
    await queue.start_worker()
    job = await queue.wait_for(blocked, timeout=10)
    assert job.status == "failed" and "JobTimeoutError" in (job.error or "")
    assert (await queue.wait_for(quick, timeout=10)).result == "done"
    await asyncio.sleep(0.8)  # the thread cannot be stopped: let it end before the test does


async def test_a_job_handed_back_at_shutdown_keeps_the_time_it_ran(make_queue: MakeQueue) -> None:
    import time

    queue = make_queue(concurrency=1, job_timeout=1.5)
    started = asyncio.Event()

    @queue.handler("hang")
    async def hang(payload: dict[str, Any]) -> None:
        started.set()
        await asyncio.Event().wait()

    job_id = await queue.enqueue("hang", {}, max_retries=0)
    await queue.start_worker()
    await asyncio.wait_for(started.wait(), 10)
    await asyncio.sleep(1.0)
    await queue.stop_worker(grace=0)
    released = await queue.get_status(job_id)
    assert (released.status, released.attempts) == ("pending", 0)
    assert 0.9 <= released.elapsed < 1.5

    began = time.monotonic()
    await queue.start_worker()  # a run of its own would last 1.5 s; only ~0.5 s are left
    job = await queue.wait_for(job_id, timeout=10)
    assert (job.status, job.attempts) == ("failed", 1) and "JobTimeoutError" in (job.error or "")
    assert time.monotonic() - began < 1.3


async def test_bad_timeouts_are_refused(make_queue: MakeQueue) -> None:
    queue = make_queue()
    for bad in (0, -1.0, "5", True):
        with pytest.raises(InvalidArgumentError, match="timeout"):
            await queue.enqueue("x", {}, timeout=bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError, match="timeout"):
            queue.register("x", lambda payload: None, timeout=bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError, match="job_timeout"):
            JobQueue(job_timeout=bad)  # type: ignore[arg-type]


async def test_redis_a_job_keeps_its_timeout_for_a_worker_in_another_process(redis_url: str) -> None:
    producer = JobQueue(RedisQueueBackend(redis_url, queue_name="timeouts"))
    job_id = await producer.enqueue("hang", {}, max_retries=0, timeout=0.2)
    await producer.aclose()

    consumer = JobQueue(RedisQueueBackend(redis_url, queue_name="timeouts"))  # default: 600 s
    consumer.register("hang", lambda payload: asyncio.Event().wait())
    await consumer.start_worker()
    job = await consumer.wait_for(job_id, timeout=10)
    assert (job.status, job.timeout) == ("failed", 0.2)
    assert job.error == "JobTimeoutError: The job ran longer than its timeout of 0.2 s and was stopped."
    await consumer.aclose()


async def test_stop_worker_does_not_wait_forever_on_a_handler_that_ignores_cancellation(
    make_queue: MakeQueue,
) -> None:
    queue = make_queue(concurrency=1, job_timeout=None)
    started, release = asyncio.Event(), asyncio.Event()

    @queue.handler("stubborn")
    async def stubborn(payload: dict[str, Any]) -> None:
        started.set()
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue

    job_id = await queue.enqueue("stubborn", {})
    await queue.start_worker()
    try:
        await asyncio.wait_for(started.wait(), 10)
        await asyncio.wait_for(queue.stop_worker(grace=0.1), 5)
        job = await queue.get_status(job_id)
        assert (job.status, job.attempts) == ("pending", 0)  # handed back for the next worker
    finally:
        release.set()


async def test_a_handler_that_stops_late_but_returns_still_completes(make_queue: MakeQueue) -> None:
    queue = make_queue(job_timeout=0.1)

    @queue.handler("tidy")
    async def tidy(payload: dict[str, Any]) -> str:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await asyncio.sleep(0.05)  # saves its work, then returns instead of re-raising
        return "saved"

    queue.register("after", lambda payload: "next")
    job_id = await queue.enqueue("tidy", {}, max_retries=0)
    after = await queue.enqueue("after", {})
    await queue.start_worker()
    job = await queue.wait_for(job_id, timeout=10)
    assert (job.status, job.result) == ("completed", "saved")
    assert (await queue.wait_for(after, timeout=10)).result == "next"  # the slot carries on
