"""A background job queue: named handlers, retries with backoff, a worker with bounded concurrency.

``JobQueue`` runs the worker; a ``QueueBackend`` keeps the jobs. The default
``MemoryQueueBackend`` lives in this process; ``RedisQueueBackend`` persists
jobs and shares them between worker processes.

Life of a job::

    pending ──claim──▶ processing ──▶ completed
       ▲                  │  ├──────▶ failed        (no retries left, or no handler)
       └── retry (backoff)┘  └──────▶ pending       (stop_worker ran out of grace: released)

``attempts`` counts the runs that started; a job gets ``1 + max_retries`` runs.
A run that outlasts its timeout is stopped and counts as a failed run. A
released run does not count, but the time it ran is taken off the timeout of
the next run of that attempt, so a job that never ends cannot come back forever.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..errors import InvalidArgumentError, NotFoundError
from .jobs import (
    PERMANENT_ERRORS,
    Job,
    JobStatus,
    JobTimeoutError,
    MemoryQueueBackend,
    Outcome,
    QueueBackend,
)

__all__ = [
    "JobStatus", "Job", "Outcome", "JobWatch", "QueueBackend", "MemoryQueueBackend", "JobQueue", "Handler",
    "PERMANENT_ERRORS", "JobTimeoutError", "DEFAULT_JOB_TIMEOUT",
]  # fmt: skip

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[Any] | Any]

DEFAULT_JOB_TIMEOUT = 600.0
"""Seconds a job may run unless its queue, handler or enqueue call says otherwise."""

# How long a timed-out handler gets to end after it is cancelled; one that
# ignores cancellation is left behind so that it cannot hold its slot.
_CANCEL_WAIT = 1.0



class JobWatch:
    """Job snapshots of every status change in this process, in order; from ``JobQueue.watch``.

    Iterate with ``async for``; ``close()`` (or leaving ``async with``) stops it.
    A watcher that falls more than ``maxsize`` changes behind loses the oldest.
    """

    _CLOSED = object()

    def __init__(self, watchers: set[JobWatch], maxsize: int = 1000) -> None:
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize)
        self._watchers = watchers
        self._closed = False
        watchers.add(self)

    def _put(self, item: Any) -> None:
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(item)

    def close(self) -> None:
        """Stop watching; a pending ``__anext__`` ends the iteration."""
        if not self._closed:
            self._closed = True
            self._watchers.discard(self)
            self._put(self._CLOSED)

    def __aiter__(self) -> JobWatch:
        return self

    async def __anext__(self) -> Job:
        item = await self._queue.get()
        if item is self._CLOSED:
            raise StopAsyncIteration
        return item

    async def __aenter__(self) -> JobWatch:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class JobQueue:
    """Named handlers, ``enqueue``, ``get_status``, and a worker that runs ``concurrency`` jobs at once.

    A failed run is retried after ``retry_base_delay * 2**(attempt-1)`` seconds
    (capped at ``retry_max_delay``, with jitter of up to half that) while
    retries are left, except for errors in ``PERMANENT_ERRORS`` (bad payload,
    record not found, rejected key or request), which fail the job at once.

    A run may last ``job_timeout`` seconds (None: no limit), unless the
    handler's registration or the job's ``enqueue`` sets its own timeout; past
    it the run is cancelled and counts as a failed run (``JobTimeoutError``),
    retried like any other failure. A handler that ignores the cancellation is
    left behind, and its slot is free for the next job; a sync handler's thread
    cannot be stopped and runs on in the background.
    ``stop_worker`` lets running jobs finish for ``shutdown_grace`` seconds,
    then cancels them and puts them back in the queue.
    """

    def __init__(
        self,
        backend: QueueBackend | None = None,
        concurrency: int = 4,
        *,
        retry_base_delay: float = 1.0,
        retry_max_delay: float = 300.0,
        shutdown_grace: float = 10.0,
        poll_interval: float = 1.0,
        job_timeout: float | None = DEFAULT_JOB_TIMEOUT,
    ) -> None:
        if concurrency < 1:
            raise InvalidArgumentError("The job queue's concurrency must be at least 1.")
        self.job_timeout = _check_timeout(job_timeout, "job_timeout")
        self.backend = backend if backend is not None else MemoryQueueBackend()
        self.concurrency = concurrency
        self.retry_base_delay = retry_base_delay
        self.retry_max_delay = retry_max_delay
        self.shutdown_grace = shutdown_grace
        self.poll_interval = poll_interval
        self._handlers: dict[str, Handler] = {}
        self._handler_timeouts: dict[str, float] = {}
        # Slots whose handler ignored its cancellation: no longer counted, kept until they end.
        self._abandoned: set[asyncio.Task[None]] = set()
        self._background: set[asyncio.Task[Any]] = set()  # outcomes recorded for abandoned slots
        self._watchers: set[JobWatch] = set()
        self._inflight: dict[str, asyncio.Task[None]] = {}  # one task per busy slot
        self._current: dict[str, Job] = {}  # the job each slot runs now
        self._started: dict[str, float] = {}  # when (monotonic) each slot's current run began
        self._timed_out: set[str] = set()  # slots whose current run the timeout has cancelled
        self._dispatcher: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._idle: asyncio.Task[None] | None = None
        self._slot_free = asyncio.Event()
        self._stopping = False

    # -- handlers -----------------------------------------------------------------

    def handler(self, name: str, *, timeout: float | None = None) -> Callable[[Handler], Handler]:
        """Decorator: run the function for jobs called ``name`` (it gets the payload dict)."""

        def register(fn: Handler) -> Handler:
            self.register(name, fn, timeout=timeout)
            return fn

        return register

    def register(self, name: str, fn: Handler, *, timeout: float | None = None) -> None:
        """Run ``fn(payload)`` for jobs called ``name``; sync functions run in a thread.

        ``timeout`` (seconds) replaces the queue's ``job_timeout`` for these jobs.
        """
        timeout = _check_timeout(timeout, "timeout")
        self._handlers[name] = fn
        if timeout is None:
            self._handler_timeouts.pop(name, None)
        else:
            self._handler_timeouts[name] = timeout

    def has_handler(self, name: str) -> bool:
        """True when a handler is registered for ``name``."""
        return name in self._handlers

    # -- jobs -----------------------------------------------------------------------

    async def enqueue(
        self, name: str, payload: dict[str, Any] | None = None, max_retries: int = 3, *, timeout: float | None = None
    ) -> str:
        """Add a job and return its id (``job_…``); ``timeout`` (seconds) bounds each of its runs,
        over the handler's and the queue's."""
        if not name:
            raise InvalidArgumentError("A job needs a name.")
        if max_retries < 0:
            raise InvalidArgumentError("max_retries must be 0 or more.")
        timeout = _check_timeout(timeout, "timeout")
        job = await self.backend.enqueue(name, dict(payload or {}), max_retries, timeout)
        self._publish(job)
        return job.id

    async def get_status(self, job_id: str) -> Job:
        """The job's current snapshot; raises ``NotFoundError`` for an unknown or expired id."""
        job = await self.backend.get(job_id)
        if job is None:
            raise NotFoundError(f"There is no job {job_id!r}; it never existed or its result has expired.")
        return job

    async def wait_for(self, job_id: str, timeout: float | None = None) -> Job:
        """Poll until the job is completed or failed and return it; ``TimeoutError`` after ``timeout``."""
        async with asyncio.timeout(timeout):
            pause = 0.005
            while not (job := await self.get_status(job_id)).finished:
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.2)
            return job

    def watch(self, maxsize: int = 1000) -> JobWatch:
        """Snapshots of every status change made in this process (enqueue, start, finish, retry)."""
        return JobWatch(self._watchers, maxsize)

    @property
    def running_count(self) -> int:
        """How many jobs this process's worker is running now."""
        return len(self._inflight)

    @property
    def worker_running(self) -> bool:
        """True between ``start_worker`` and ``stop_worker``."""
        return self._dispatcher is not None and not self._dispatcher.done()

    def _publish(self, job: Job | None) -> None:
        if job is not None:
            for watcher in tuple(self._watchers):
                watcher._put(job)

    # -- worker ---------------------------------------------------------------------

    async def start_worker(self) -> None:
        """Start taking jobs in the background (does nothing if already running)."""
        if self.worker_running:
            return
        self._stopping = False
        self._dispatcher = asyncio.create_task(self._dispatch(), name="job-queue-dispatch")
        if self.backend.lease_seconds:
            self._heartbeat = asyncio.create_task(self._renew_leases(), name="job-queue-heartbeat")

    async def stop_worker(self, grace: float | None = None) -> None:
        """Stop taking jobs; running ones get ``grace`` seconds (default ``shutdown_grace``),
        then are cancelled and go back to the queue."""
        if self._dispatcher is None:
            return
        self._stopping = True
        self._slot_free.set()
        if self._idle is not None:
            self._idle.cancel()
        await asyncio.gather(self._dispatcher, return_exceptions=True)
        running = list(self._inflight.values())
        if running:
            _, late = await asyncio.wait(running, timeout=self.shutdown_grace if grace is None else grace)
            for task in late:
                task.cancel()
            if late:
                _, stuck = await asyncio.wait(late, timeout=_CANCEL_WAIT)
                await self._release_stuck(stuck)
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
        self._dispatcher = self._heartbeat = None

    async def aclose(self) -> None:
        """Stop the worker and close the backend."""
        await self.stop_worker()
        await self.backend.aclose()

    async def _dispatch(self) -> None:
        while not self._stopping:
            free = self.concurrency - len(self._inflight)
            if free <= 0:
                self._slot_free.clear()
                await self._slot_free.wait()
                continue
            try:
                jobs = await self.backend.claim(free)
            except Exception as exc:  # e.g. Redis is down: keep trying, quietly
                log.warning("The job queue could not take jobs (%s); trying again shortly.", exc)
                await self._idle_wait(asyncio.sleep(self.poll_interval))
                continue
            if not jobs:
                await self._idle_wait(self.backend.wait(self.poll_interval))
            for job in jobs:
                self._start(job)

    async def _idle_wait(self, waiting: Awaitable[None]) -> None:
        """Wait, cancellably by ``stop_worker``."""
        self._idle = asyncio.ensure_future(waiting)
        try:
            await self._idle
        except asyncio.CancelledError:
            if not self._stopping:
                raise
        except Exception:
            log.exception("The job queue's wait for new jobs failed.")
            await asyncio.sleep(self.poll_interval)
        finally:
            self._idle = None

    def _start(self, job: Job) -> None:
        self._publish(job)
        self._inflight[job.id] = asyncio.create_task(self._run_slot(job), name=f"job-{job.id}")

    async def _run_slot(self, job: Job) -> None:
        """Run ``job``, then keep running the jobs claimed while settling it."""
        slot_id = job.id
        task = asyncio.current_task()
        try:
            current: Job | None = job
            while current is not None:
                self._current[slot_id] = current
                self._started[slot_id] = time.monotonic()
                following = await self._run_one(slot_id, current)
                current = following[0] if following else None
                if current is not None:
                    self._publish(current)
        finally:
            if self._inflight.get(slot_id) is task:  # an abandoned slot was let go already
                self._let_go(slot_id)

    def _owns(self, slot_id: str) -> bool:
        """Whether the running slot still counts (it was not abandoned); only such slots take more jobs."""
        return self._inflight.get(slot_id) is asyncio.current_task()

    def _let_go(self, slot_id: str) -> None:
        self._inflight.pop(slot_id, None)
        self._current.pop(slot_id, None)
        self._started.pop(slot_id, None)
        self._timed_out.discard(slot_id)
        self._slot_free.set()

    async def _run_one(self, slot_id: str, job: Job) -> list[Job]:
        """Run one job to its outcome and settle it; returns jobs claimed for this slot next."""
        handler = self._handlers.get(job.name)
        if handler is None:
            error = f"No handler is registered for job {job.name!r}; register one with @queue.handler({job.name!r})."
            return await self._settle(job, Outcome("failed", error=error), self._owns(slot_id))
        limit = self._timeout_for(job)
        if limit is not None and limit <= 0:
            error = JobTimeoutError("The job used up its timeout in earlier runs that were stopped.")
            return await self._settle(job, self._failure(job, error), self._owns(slot_id))
        # One timer per run, cheaper than a task per run; see _time_out.
        timer = None if limit is None else asyncio.get_running_loop().call_later(
            limit, self._time_out, slot_id, job, limit)  # fmt: skip
        try:
            result = await self._call(handler, job.payload)
        except asyncio.CancelledError:
            if not self._cancelled_by_timeout(slot_id):
                if self._stopping and self._owns(slot_id):  # out of grace: hand the job back
                    ran = time.monotonic() - self._started.get(slot_id, time.monotonic())
                    await asyncio.shield(self._settle(job, Outcome("release", elapsed=ran), claim=False))
                raise
            outcome = self._failure(job, _timeout_error(limit))
        except Exception as exc:
            outcome = self._failure(job, exc)
        else:
            # A handler that swallowed the timeout's cancellation and returned still completed.
            self._cancelled_by_timeout(slot_id)
            outcome = Outcome("completed", result=result)
        finally:
            if timer is not None:
                timer.cancel()
        return await self._settle(job, outcome, self._owns(slot_id))

    def _failure(self, job: Job, exc: BaseException) -> Outcome:
        """Retry after a backoff while retries are left and the error is not permanent; else fail."""
        error = _describe(exc)
        if job.attempts <= job.max_retries and not isinstance(exc, PERMANENT_ERRORS):
            return Outcome("retry", error=error, delay=self._backoff(job.attempts))
        return Outcome("failed", error=error)

    def _timeout_for(self, job: Job) -> float | None:
        """Seconds this run may take: the job's, the handler's or the queue's timeout, less time already run."""
        limit = job.timeout if job.timeout is not None else self._handler_timeouts.get(job.name, self.job_timeout)
        if limit is None or math.isinf(limit):
            return None
        return max(limit - job.elapsed, 0.0)

    def _time_out(self, slot_id: str, job: Job, limit: float) -> None:
        """The run of ``job`` is past its timeout: cancel it, and let the slot go if it ignores that."""
        task = self._inflight.get(slot_id)
        if task is None or self._current.get(slot_id) is not job:
            return
        self._timed_out.add(slot_id)
        task.cancel()
        asyncio.get_running_loop().call_later(_CANCEL_WAIT, self._reap, slot_id, job, task, limit)

    def _cancelled_by_timeout(self, slot_id: str) -> bool:
        """Whether the cancellation now ending a run came from its timeout alone (and absorb it)."""
        if slot_id not in self._timed_out:
            return False
        self._timed_out.discard(slot_id)
        task = asyncio.current_task()
        return task is None or task.uncancel() == 0

    def _reap(self, slot_id: str, job: Job, task: asyncio.Task[None], limit: float) -> None:
        """Free the slot of a timed-out handler that ignored its cancellation; record the timeout."""
        if self._inflight.get(slot_id) is not task or self._current.get(slot_id) is not job:
            return  # it ended meanwhile
        log.warning("Job %s ignored its cancellation after its timeout; it is left running.", job.id)
        self._abandon(slot_id, task)
        self._in_background(self._settle(job, self._failure(job, _timeout_error(limit)), claim=False))

    def _abandon(self, slot_id: str, task: asyncio.Task[None]) -> None:
        """Stop counting a slot whose handler will not end; its late outcome is fenced out by the backend."""
        self._let_go(slot_id)
        self._abandoned.add(task)
        task.add_done_callback(self._abandoned.discard)

    def _in_background(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _release_stuck(self, stuck: set[asyncio.Task[None]]) -> None:
        """Hand back the jobs of slots that stop_worker cancelled and that would not end."""
        for slot_id, task in list(self._inflight.items()):
            if task not in stuck:
                continue
            job, started = self._current.get(slot_id), self._started.get(slot_id, time.monotonic())
            log.warning("A job ignored its cancellation at shutdown; it is handed back and left running.")
            self._abandon(slot_id, task)
            if job is not None:
                await self._settle(job, Outcome("release", elapsed=time.monotonic() - started), claim=False)

    @staticmethod
    async def _call(handler: Handler, payload: dict[str, Any]) -> Any:
        if inspect.iscoroutinefunction(handler):
            return await handler(payload)
        result = await asyncio.to_thread(handler, payload)
        return await result if inspect.isawaitable(result) else result

    def _backoff(self, attempt: int) -> float:
        delay = min(self.retry_base_delay * 2 ** (attempt - 1), self.retry_max_delay)
        return delay * (0.5 + random.random() / 2)  # jitter keeps retrying workers apart

    async def _settle(self, job: Job, outcome: Outcome, claim: bool = True) -> list[Job]:
        try:
            settled, following = await self.backend.settle(job, outcome, int(claim and not self._stopping))
        except Exception:
            # The lease runs out and the job is handed out again; nothing is lost.
            log.exception("Could not record the outcome of job %s.", job.id)
            return []
        self._publish(settled)
        return following

    async def _renew_leases(self) -> None:
        interval = (self.backend.lease_seconds or 30.0) / 3
        while True:
            await asyncio.sleep(interval)
            jobs = list(self._current.values())
            if jobs:
                try:
                    await self.backend.renew(jobs)
                except Exception:
                    log.exception("Could not renew the leases of running jobs.")


def _timeout_error(limit: float) -> JobTimeoutError:
    return JobTimeoutError(f"The job ran longer than its timeout of {limit:g} s and was stopped.")


def _check_timeout(value: float | None, name: str) -> float | None:
    """``value`` as seconds (None: no own timeout); refuses anything but a positive number."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InvalidArgumentError(f"{name} must be a positive number of seconds, or None.")
    return float(value)
