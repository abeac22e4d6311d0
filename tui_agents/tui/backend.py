"""What the app needs from the engine: the database, the stores, providers and runners.

No Textual here: the app drives this object from its workers, so the same code
paths can be exercised by a plain asyncio test.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ..config import AppConfig
    from ..providers.registry import Readiness

__all__ = ["Backend", "TurnState", "DEFAULT_AGENT_NAME"]

DEFAULT_AGENT_NAME = "assistant"
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant. Answer in Markdown."
PAGE = 200


@dataclass
class TurnState:
    """One running (or just ended) turn of a thread, fed by the runner's events."""

    thread_id: str
    provider: str
    model: str
    chunks: list[str] = field(default_factory=list)
    user_message_id: str | None = None
    reply_id: str | None = None
    status: str = "streaming"
    error: Any = None
    usage: Any = None
    tools: dict[str, dict[str, Any]] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)
    worker: Any = None

    @property
    def text(self) -> str:
        """The reply so far (joined on demand, never per token)."""
        if len(self.chunks) > 1:
            self.chunks[:] = ["".join(self.chunks)]
        return self.chunks[0] if self.chunks else ""

    @property
    def running(self) -> bool:
        return self.status == "streaming"


class Backend:
    """Database, stores, providers, runners and the job queue of one app session."""

    def __init__(self, db_path: Path | str, config: AppConfig, user_id: str) -> None:
        self.db_path = db_path
        self.config = config
        self.user_id = user_id
        self.conn: Any = None
        self.threads: Any = None
        self.messages: Any = None
        self.agents: Any = None
        self.auth: Any = None
        self.agent_id: str | None = None
        self.job_queue: Any = None
        self._providers: dict[tuple[str, str], Any] = {}
        self._runners: dict[str, Any] = {}

    async def open(self) -> None:
        """Open (and migrate) the database and build the stores."""
        from ..store import AgentStore, MessageStore, ThreadStore, connect

        if str(self.db_path) != ":memory:":
            await asyncio.to_thread(Path(self.db_path).parent.mkdir, parents=True, exist_ok=True)
        self.conn = await connect(str(self.db_path))
        self.threads = ThreadStore(self.conn)
        self.messages = MessageStore(self.conn)
        self.agents = AgentStore(self.conn)
        try:
            from ..store import Auth
        except ImportError:  # the auth store may land later; turns then run unchecked
            self.auth = None
        else:
            self.auth = Auth(self.conn)

    async def close(self) -> None:
        """Stop the job worker, close providers and the database."""
        if self.job_queue is not None:
            try:
                await self.job_queue.stop_worker()
            except Exception:  # noqa: BLE001 - closing must not fail the exit
                pass
        for provider in list(self._providers.values()):
            try:
                await provider.aclose()
            except Exception:  # noqa: BLE001
                pass
        self._providers.clear()
        if self.conn is not None:
            await self.conn.close()
            self.conn = None

    async def default_agent_id(self) -> str:
        """The id of the app's own agent record, created on first use."""
        if self.agent_id is None:
            agent = await self.agents.get_by_name(DEFAULT_AGENT_NAME)
            if agent is None:
                agent = await self.agents.create(DEFAULT_AGENT_NAME, DEFAULT_SYSTEM_PROMPT)
            self.agent_id = agent["id"]
        return self.agent_id

    async def new_thread(self, provider: str, model: str, title: str | None = None) -> dict[str, Any]:
        """Create a thread owned by the app's user, with its provider and model."""
        thread = await self.threads.create(await self.default_agent_id(), title=title, user_id=self.user_id)
        await self.grant(thread["id"])
        return await self.threads.set_model(thread["id"], provider, model)

    async def grant(self, thread_id: str) -> None:
        """Make the app's user owner of a thread it can see (imported and copied threads included)."""
        if self.auth is None:
            return
        if not await self.auth.check(self.user_id, "write", "thread", thread_id):
            await self.auth.assign_role(self.user_id, "owner", "thread", thread_id)

    async def first_user_texts(self, thread_ids: list[str], chars: int = 200) -> dict[str, str]:
        """The start of each thread's first user message (labels of untitled threads).

        One query for all the threads. It reads the store's tables directly
        (``messages``, ``contents``): the store has no such call yet. An error
        leaves the labels as they are.
        """
        import sqlite3

        if not thread_ids or self.conn is None:
            return {}
        out: dict[str, str] = {}
        for i in range(0, len(thread_ids), 500):  # SQLite's variable limit
            chunk = thread_ids[i:i + 500]
            sql = ("SELECT t.id, (SELECT substr(c.text, 1, ?) FROM messages AS m JOIN contents AS c "
                   "ON c.id = m.content_id WHERE m.thread_id = t.id AND m.role = 'user' "
                   "ORDER BY m.position LIMIT 1) FROM threads AS t "
                   f"WHERE t.id IN ({','.join('?' * len(chunk))})")
            try:
                async with self.conn.execute(sql, (chars, *chunk)) as cursor:
                    rows = await cursor.fetchall()
            except sqlite3.Error:
                return out
            out.update({row[0]: row[1] for row in rows if row[1]})
        return out

    # ---- providers and runners

    def base_url(self, name: str) -> str | None:
        """The configured base URL of a provider (None: its env var or default)."""
        return self.config.providers.get(name).base_url or None

    def provider(self, name: str, model: str | None = None) -> Any:
        """A cached provider client for ``name`` and ``model``."""
        key = (name, model or "")
        cached = self._providers.get(key)
        if cached is None:
            from ..providers import get_provider

            options: dict[str, Any] = {}
            if self.base_url(name):
                options["base_url"] = self.base_url(name)
            cached = get_provider(name, model=model or None, **options)
            self._providers[key] = cached
        return cached

    def runner(self, name: str) -> Any:
        """The runner of provider ``name`` (the thread's model is picked per turn)."""
        runner = self._runners.get(name)
        if runner is None:
            from ..memory import get_memory_strategy
            from ..runner import AgentRunner

            memory = get_memory_strategy(self.config.memory.strategy, **self.config.memory.params)
            runner = AgentRunner(self.conn, self.auth, self.provider(name), memory, job_queue=self.job_queue)
            self._runners[name] = runner
        return runner

    def runners(self) -> list[Any]:
        """The runners built so far (one per provider)."""
        return list(self._runners.values())

    def forget_providers(self) -> None:
        """Drop cached clients and runners (after keys or base URLs change)."""
        old = list(self._providers.values())
        self._providers.clear()
        self._runners.clear()
        for provider in old:
            asyncio.ensure_future(provider.aclose())

    async def start_jobs(self) -> None:
        """Start the in-process job queue (titles, summaries) if the engine provides one."""
        try:
            from ..limits import JobQueue
        except ImportError:
            return
        self.job_queue = JobQueue()
        self._runners.clear()  # runners register the job handlers when they are built
        await self.job_queue.start_worker()

    async def list_models(self, name: str) -> list[str]:
        """The provider's model names (raises the provider's typed error)."""
        return list(await self.provider(name).list_models())

    async def check(self, name: str, model: str | None = None) -> Readiness:
        """Whether a chat can start with provider ``name`` (built in a thread: the keyring lookup blocks)."""
        from ..errors import AgentError
        from ..providers.registry import Readiness

        try:
            provider = await asyncio.to_thread(self.provider, name)
        except AgentError as exc:
            return Readiness(False, str(exc))
        return await provider.check(model or None)
