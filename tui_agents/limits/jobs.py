"""Jobs and where they are kept: ``Job`` snapshots, ``Outcome`` of a run, the ``QueueBackend``
interface and the in-process ``MemoryQueueBackend``; the worker is in ``job_queue``.
"""

from __future__ import annotations

import abc
import asyncio
import collections
import heapq
import time
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Literal

from ..errors import (
    AgentError,
    AuthenticationError,
    BadRequestError,
    ConfigError,
    InvalidArgumentError,
    ModelNotFoundError,
    NotFoundError,
    PermissionDeniedError,
    ProviderPermissionError,
)

__all__ = [
    "JobStatus", "Job", "Outcome", "QueueBackend", "MemoryQueueBackend", "PERMANENT_ERRORS", "JobTimeoutError",
    "FINISHED",
]  # fmt: skip

class JobTimeoutError(AgentError, TimeoutError):
    """A job ran longer than its timeout and was stopped."""


class JobStatus(StrEnum):
    """Where a job is in its life; compares equal to its plain string."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


FINISHED = frozenset({JobStatus.COMPLETED, JobStatus.FAILED})

# Failures no retry can fix: a bad payload, a deleted record, a missing key, a
# request the provider rejects as such. A job that raises one fails at once.
PERMANENT_ERRORS: tuple[type[Exception], ...] = (
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ConfigError,
    AuthenticationError,
    ProviderPermissionError,
    ModelNotFoundError,
    BadRequestError,
)


@dataclass(frozen=True, slots=True)
class Job:
    """A snapshot of one job. Times are Unix seconds; ``error`` is the last failure's text."""

    id: str
    name: str
    payload: dict[str, Any] = field(default_factory=dict)
    status: JobStatus = JobStatus.PENDING
    attempts: int = 0
    max_retries: int = 3
    result: Any = None
    error: str | None = None
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    updated_at: float = 0.0
    timeout: float | None = None
    """Seconds a run may take, set at enqueue; None: the handler's or the queue's timeout."""
    elapsed: float = 0.0
    """Seconds this attempt already ran in runs handed back by a stopping worker."""

    @property
    def finished(self) -> bool:
        """True once the job is completed or failed for good."""
        return self.status in FINISHED


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one run of a job ended: ``kind`` is completed, failed, retry (after ``delay``
    seconds) or release (handed back by a stopping worker after ``elapsed`` seconds; the run does not count)."""

    kind: Literal["completed", "failed", "retry", "release"]
    result: Any = None
    error: str | None = None
    delay: float = 0.0
    elapsed: float = 0.0

    def apply(self, job: Job, at: float) -> Job:
        """The snapshot of ``job`` once this outcome is recorded at time ``at``."""
        if self.kind == "completed":
            return replace(job, status=JobStatus.COMPLETED, result=self.result, error=None, finished_at=at,
                           updated_at=at)  # fmt: skip
        if self.kind == "failed":
            return replace(job, status=JobStatus.FAILED, error=self.error, finished_at=at, updated_at=at)
        if self.kind == "retry":
            return replace(job, status=JobStatus.PENDING, error=self.error, updated_at=at, elapsed=0.0)
        return replace(job, status=JobStatus.PENDING, attempts=job.attempts - 1, updated_at=at,
                       elapsed=job.elapsed + self.elapsed)  # fmt: skip


class QueueBackend(abc.ABC):
    """Keeps jobs and hands them to workers. ``settle`` is fenced by ``job.attempts``:
    it does nothing (returns ``None``) when the job was meanwhile handed to another worker."""

    lease_seconds: float | None = None
    """How long a claimed job stays with its worker without a ``renew``; None: no leases."""

    @abc.abstractmethod
    async def enqueue(self, name: str, payload: dict[str, Any], max_retries: int, timeout: float | None = None) -> Job:
        """Store a new pending job (with its own run ``timeout``, if any) and return it."""

    @abc.abstractmethod
    async def claim(self, limit: int) -> list[Job]:
        """Take up to ``limit`` jobs that are due, now ``processing``; never blocks."""

    @abc.abstractmethod
    async def wait(self, timeout: float) -> None:
        """Return when work may be ready to claim, or after ``timeout`` seconds."""

    @abc.abstractmethod
    async def settle(self, job: Job, outcome: Outcome, claim: int = 0) -> tuple[Job | None, list[Job]]:
        """Record how one run of ``job`` ended, then claim up to ``claim`` more jobs in the same step."""

    async def renew(self, jobs: list[Job]) -> None:
        """Extend the leases of jobs this worker still runs."""

    @abc.abstractmethod
    async def get(self, job_id: str) -> Job | None:
        """The job's current snapshot, or None when unknown (or expired)."""

    async def aclose(self) -> None:
        """Release connections, if any."""


def _new_job_id() -> str:
    from ..store.ids import new_id

    return new_id("job")


class MemoryQueueBackend(QueueBackend):
    """Jobs kept in this process; lost when it exits. Finished jobs are kept ``result_ttl`` seconds."""

    def __init__(self, result_ttl: float = 86_400.0) -> None:
        self.result_ttl = result_ttl
        self._jobs: dict[str, Job] = {}
        self._pending: collections.deque[str] = collections.deque()
        self._scheduled: list[tuple[float, str]] = []  # heap of (due time, job id)
        self._finished: collections.deque[tuple[float, str]] = collections.deque()
        self._wake = asyncio.Event()

    async def enqueue(self, name: str, payload: dict[str, Any], max_retries: int, timeout: float | None = None) -> Job:
        now = time.time()
        self._expire(now)
        job = Job(_new_job_id(), name, payload, JobStatus.PENDING, 0, max_retries, created_at=now, updated_at=now,
                  timeout=timeout)  # fmt: skip
        self._jobs[job.id] = job
        self._pending.append(job.id)
        self._wake.set()
        return job

    def _expire(self, now: float) -> None:
        finished = self._finished
        while finished and finished[0][0] <= now:
            self._jobs.pop(finished.popleft()[1], None)

    def _promote_due(self, now: float) -> None:
        scheduled = self._scheduled
        while scheduled and scheduled[0][0] <= now:
            self._pending.append(heapq.heappop(scheduled)[1])

    async def claim(self, limit: int) -> list[Job]:
        return self._claim(limit, time.time())

    def _claim(self, limit: int, now: float) -> list[Job]:
        if self._scheduled:
            self._promote_due(now)
        out: list[Job] = []
        pending, jobs = self._pending, self._jobs
        while pending and len(out) < limit:
            job = jobs.get(pending.popleft())
            if job is None or job.status != JobStatus.PENDING:
                continue
            job = replace(job, status=JobStatus.PROCESSING, attempts=job.attempts + 1, started_at=now, updated_at=now)
            jobs[job.id] = job
            out.append(job)
        return out

    async def wait(self, timeout: float) -> None:
        if self._pending:
            return
        if self._scheduled:
            timeout = min(timeout, max(self._scheduled[0][0] - time.time(), 0.0))
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
        except TimeoutError:
            pass

    async def settle(self, job: Job, outcome: Outcome, claim: int = 0) -> tuple[Job | None, list[Job]]:
        now = time.time()
        current = self._jobs.get(job.id)
        settled = None
        if current is not None and current.status == JobStatus.PROCESSING and current.attempts == job.attempts:
            settled = self._jobs[job.id] = outcome.apply(current, now)
            self._route(job.id, outcome, now)
        return settled, (self._claim(claim, now) if claim else [])

    def _route(self, job_id: str, outcome: Outcome, now: float) -> None:
        """Put a settled job where it goes next: expiry list, front of the queue, or schedule."""
        if outcome.kind in ("completed", "failed"):
            self._finished.append((now + self.result_ttl, job_id))
            return
        if outcome.kind == "release":
            self._pending.appendleft(job_id)  # it has waited longest
        elif outcome.delay > 0:
            heapq.heappush(self._scheduled, (now + outcome.delay, job_id))
        else:
            self._pending.append(job_id)
        self._wake.set()

    async def get(self, job_id: str) -> Job | None:
        self._expire(time.time())
        return self._jobs.get(job_id)
