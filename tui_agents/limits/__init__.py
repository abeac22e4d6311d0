"""Rate limiting and the background job queue, in memory by default or shared through Redis.

Redis support loads lazily: importing this package never imports ``redis``.
"""

from __future__ import annotations

from ._redis import RedisConfig, RedisUnavailableError
from .job_queue import (
    DEFAULT_JOB_TIMEOUT,
    Job,
    JobQueue,
    JobStatus,
    JobTimeoutError,
    JobWatch,
    MemoryQueueBackend,
    Outcome,
    QueueBackend,
)
from .rate_limiter import (
    DEFAULT_LIMITS,
    MemoryBackend,
    ProviderLimits,
    RateLimitBackend,
    RateLimiter,
    get_rate_limiter,
)
from .redis_backend import RedisBackend
from .redis_queue import RedisQueueBackend

__all__ = [
    "DEFAULT_JOB_TIMEOUT",
    "DEFAULT_LIMITS",
    "Job",
    "JobQueue",
    "JobStatus",
    "JobTimeoutError",
    "JobWatch",
    "MemoryBackend",
    "MemoryQueueBackend",
    "Outcome",
    "ProviderLimits",
    "QueueBackend",
    "RateLimitBackend",
    "RateLimiter",
    "RedisBackend",
    "RedisConfig",
    "RedisQueueBackend",
    "RedisUnavailableError",
    "get_rate_limiter",
]
