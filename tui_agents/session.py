"""A chat session: one user's stores, providers, runners and job queue over one database.

What a front end (the Textual app, the command line, a script) drives instead of
opening stores and building runners itself. No Textual here.

    session = ChatSession("chats.db", AppConfig(), user_id="local")
    await session.open()
    thread = await session.new_thread("ollama", "llama3.2")
    async for event in session.send(thread["id"], "hello"):
        ...
    await session.close()

Threads the session creates (new, fork, branch, import) get their owner grant
once, at creation; a turn never writes a grant.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .default_agent import DEFAULT_AGENT_NAME, DEFAULT_AGENT_TOOLS, DEFAULT_SYSTEM_PROMPT

if TYPE_CHECKING:  # pragma: no cover
    from .config import AppConfig
    from .events import TurnEvent
    from .memory.context import TurnContext
    from .providers.base import Provider
    from .providers.registry import Readiness
    from .runner import AgentRunner
    from .store import AgentStore, Auth, DocumentStore, MessageStore, ThreadStore, UserMemoryStore
    from .store import DraftStore, StateStore

__all__ = ["ChatSession", "Stores", "thread_context", "DEFAULT_AGENT_NAME", "DEFAULT_SYSTEM_PROMPT"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Stores:
    """Every store over one open connection."""

    conn: Any
    threads: ThreadStore
    messages: MessageStore
    agents: AgentStore
    facts: UserMemoryStore
    documents: DocumentStore
    auth: Auth

    @classmethod
    def on(cls, conn: Any) -> Stores:
        """The stores of an open connection."""
        from .store import AgentStore, Auth, DocumentStore, MessageStore, ThreadStore, UserMemoryStore

        return cls(conn, ThreadStore(conn), MessageStore(conn), AgentStore(conn), UserMemoryStore(conn),
                   DocumentStore(conn), Auth(conn))


class ChatSession:
    """Database, stores, providers, runners and the job queue of one user's chats."""

    def __init__(self, db_path: Path | str, config: AppConfig, user_id: str) -> None:
        self.db_path = db_path
        self.config = config
        self.user_id = user_id
        self.stores: Stores | None = None
        self.agent_id: str | None = None
        self.job_queue: Any = None
        self._providers: dict[tuple[str, str], Provider] = {}
        self._runners: dict[str, AgentRunner] = {}
        self.approve: Any = None
        """The ``approve=`` callable every runner gets (the app's dialog); None runs the tools an agent names."""
        self._tool_servers: list[Any] | None = None
        self._own: set[str] = set()  # threads of the user checked (and adopted if need be) this session

    # ---- the database

    async def open(self) -> None:
        """Open (and migrate) the database, build the stores, and mark replies a crashed run left streaming."""
        from .store import connect

        if str(self.db_path) != ":memory:":
            await asyncio.to_thread(Path(self.db_path).parent.mkdir, parents=True, exist_ok=True)
        self.stores = Stores.on(await connect(str(self.db_path)))
        await self.stores.messages.recover_unfinished()
        await self.apply_memory_approval()

    async def data_version(self) -> int:
        """SQLite's ``PRAGMA data_version``: it changes once another connection (another process) has committed."""
        from .store.db import data_version, run

        return await run(self.conn, data_version)

    async def apply_memory_approval(self) -> None:
        """Mirror ``memory.approve_model_facts`` to the store: facts the model writes wait for approval, or not."""
        await self._stores().facts.set_requires_approval(self.user_id, self.config.memory.approve_model_facts)

    @property
    def conn(self) -> Any:
        """The open connection (None before ``open`` or after ``close``)."""
        return self.stores.conn if self.stores is not None else None

    @property
    def threads(self) -> ThreadStore:
        return self._stores().threads

    @property
    def messages(self) -> MessageStore:
        return self._stores().messages

    @property
    def agents(self) -> AgentStore:
        return self._stores().agents

    @property
    def auth(self) -> Auth:
        return self._stores().auth

    def _stores(self) -> Stores:
        if self.stores is None:
            from .errors import AgentError

            raise AgentError("The chat session is not open yet.")
        return self.stores

    async def close(self) -> None:
        """Stop the job worker, close providers and the database; each failure is logged, none stops the rest."""
        if self.job_queue is not None:
            try:
                await self.job_queue.stop_worker()
            except Exception:
                log.warning("The job worker did not stop cleanly.", exc_info=True)
        for provider in list(self._providers.values()):
            try:
                await provider.aclose()
            except Exception:
                log.warning("A provider client did not close cleanly.", exc_info=True)
        self._providers.clear()
        await self.stop_tool_servers()
        if self.stores is not None:
            await self.stores.conn.close()
            self.stores = None

    # ---- agents and threads

    async def default_agent_id(self) -> str:
        """The id of the agent new chats start from: the chosen one, else the app's own (created on first use)."""
        if self.agent_id is None:
            agent = await self.agents.get_by_name(DEFAULT_AGENT_NAME)
            if agent is None:
                agent = await self.agents.create(DEFAULT_AGENT_NAME, DEFAULT_SYSTEM_PROMPT,
                                                 tools=list(DEFAULT_AGENT_TOOLS))
            elif not agent["tools"] and agent["updated_at"] == agent["created_at"]:
                # an untouched record from before tools were on by default; one the user edited stays as is
                agent = await self.agents.update(agent["id"], tools=list(DEFAULT_AGENT_TOOLS))
            self.agent_id = agent["id"]
        return self.agent_id

    async def new_thread(self, provider: str, model: str, title: str | None = None) -> dict[str, Any]:
        """Create a thread owned by the session's user, with its provider and model."""
        thread = await self.threads.create(await self.default_agent_id(), title=title, user_id=self.user_id,
                                           provider=provider, model=model)
        # a new thread has no grant of its own yet: no need to check before making the user its owner
        await self.auth.assign_role(self.user_id, "owner", "thread", thread["id"])
        return thread

    async def fork(self, thread_id: str, title: str | None = None) -> dict[str, Any]:
        """Copy a thread with all its messages; the user owns the copy."""
        fork = await self.threads.fork(thread_id, title=title)
        await self.adopt(fork["id"])
        return fork

    async def branch(self, thread_id: str, message_id: str, title: str | None = None) -> dict[str, Any]:
        """Copy a thread up to and including one message; the user owns the copy."""
        branch = await self.threads.branch(thread_id, message_id, title=title)
        await self.adopt(branch["id"])
        return branch

    async def adopt(self, thread_id: str) -> None:
        """Make the user owner of a thread they can see but hold no grant on (one made elsewhere, or imported)."""
        if not await self.auth.check(self.user_id, "write", "thread", thread_id):
            await self.auth.assign_role(self.user_id, "owner", "thread", thread_id)

    async def search(self, query: str, limit: int = 50, order: str = "newest") -> list[dict[str, Any]]:
        """Full-text hits over titles and messages, the last word a prefix (the search box searches as you type)."""
        return list(await self.threads.search(query, user_id=None, limit=limit, order=order, prefix_last=True))

    async def first_user_texts(self, thread_ids: Iterable[str], chars: int = 200) -> dict[str, str]:
        """The start of each thread's first user message (labels of untitled threads)."""
        return await self.messages.first_texts(thread_ids, "user", chars)

    async def import_file(self, path: Path) -> Any:
        """Import a thread file in one transaction; the user owns every imported thread."""
        from .store.transfer import import_file

        report = await import_file(self.conn, path, user_id=self.user_id,
                                   default_agent_id=await self.default_agent_id())
        for thread_id in report.thread_ids:
            await self.adopt(thread_id)
        return report

    async def export_text(self, thread_id: str, fmt: str) -> str:
        """The thread as Markdown (``md``) or JSON (``json``) text."""
        from .store.transfer import export_thread_text

        return await export_thread_text(self.conn, thread_id, fmt)

    async def export_file(self, thread_id: str, fmt: str, path: Path) -> Path:
        """Write the thread to ``path`` (Markdown's images beside it, in ``<stem>_files/``); the file written."""
        from .store.transfer import export_thread_file

        return await export_thread_file(self.conn, thread_id, path, fmt)

    # ---- providers and runners

    def base_url(self, name: str) -> str | None:
        """The configured base URL of a provider (None: its env var or default)."""
        return self.config.providers.get(name).base_url or None

    def provider(self, name: str, model: str | None = None) -> Provider:
        """A cached provider client for ``name`` and ``model`` (the key lookup may block: call off the loop)."""
        key = (name, model or "")
        cached = self._providers.get(key)
        if cached is None:
            from .providers import ProviderTimeouts, get_provider

            net = self.config.network
            options: dict[str, Any] = {"timeout": ProviderTimeouts(net.connect_timeout, net.first_byte_timeout,
                                                                   net.read_timeout)}
            if self.base_url(name):
                options["base_url"] = self.base_url(name)
            cached = get_provider(name, model=model or None, **options)
            self._providers[key] = cached
        return cached

    def built_provider(self, name: str) -> Provider | None:
        """The client a turn with provider ``name`` uses, if it is built already (None: nothing is built here)."""
        return self._providers.get((name, ""))

    def memory_strategy(self) -> Any:
        """The configured memory strategy."""
        from .memory import get_memory_strategy

        return get_memory_strategy(self.config.memory.strategy, **self.config.memory.params)

    @staticmethod
    def _runner_key(name: str, thinking: Any) -> str:
        return name if thinking is None else f"{name}|thinking={thinking!r}"

    def runner(self, name: str, thinking: Any = None) -> AgentRunner:
        """The runner of provider ``name`` (the thread's model is picked per turn), thinking as asked."""
        key = self._runner_key(name, thinking)
        runner = self._runners.get(key)
        if runner is None:
            from .runner import AgentRunner

            stores = self._stores()
            runner = AgentRunner(stores.conn, stores.auth, self.provider(name), self.memory_strategy(),
                                 job_queue=self.job_queue, thinking=thinking, approve=self.approve,
                                 tool_servers=self.tool_servers(), stall_after=self.config.network.stall_after)
            self._runners[key] = runner
        return runner

    def thinking_for(self, model: str | None) -> Any:
        """The ``thinking=`` the settings give ``model`` (``[thinking."MODEL"]``); None: the wire's default."""
        setting = self.config.thinking.get(model or "")
        return setting.value() if setting is not None else None

    def tool_servers(self) -> list[Any]:
        """The ``[mcp_servers]`` of the config as ``MCPServer`` objects, shared by every runner; none is started."""
        if self._tool_servers is None:
            self._tool_servers = []
            if getattr(self.config, "mcp_servers", None):
                from .mcp import servers_from_config

                self._tool_servers = servers_from_config(self.config)
        return self._tool_servers

    async def stop_tool_servers(self) -> None:
        """Stop every tool server that was started (their processes end); each failure is logged."""
        for server in self._tool_servers or ():
            try:
                await server.aclose()
            except Exception:
                log.warning("A tool server did not stop cleanly.", exc_info=True)

    def runners(self) -> list[AgentRunner]:
        """The runners built so far (one per provider)."""
        return list(self._runners.values())

    def set_memory(self, strategy: str, params: dict[str, int]) -> None:
        """Use another memory strategy from the next turn on."""
        from .memory import get_memory_strategy

        # model_copy keeps the other memory settings (approve_model_facts)
        self.config.memory = self.config.memory.model_copy(update={"strategy": strategy, "params": dict(params)})
        for runner in self.runners():
            runner.memory = get_memory_strategy(strategy, **params)

    def agents_changed(self) -> None:
        """Forget cached agent records (after an agent's prompt or tools were edited)."""
        for runner in self.runners():
            runner.invalidate_cache()

    def forget_providers(self) -> None:
        """Drop cached clients and runners (after keys or base URLs change)."""
        old = list(self._providers.values())
        self._providers.clear()
        self._runners.clear()
        for provider in old:
            asyncio.ensure_future(provider.aclose())

    async def start_jobs(self) -> None:
        """Start the in-process job queue (titles, summaries, memory)."""
        from .limits import JobQueue

        self.job_queue = JobQueue()
        self._runners.clear()  # runners register the job handlers when they are built
        await self.job_queue.start_worker()

    async def title_untitled(self, limit: int = 20) -> int:
        """Queue a title job for each recent thread with a reply but no title (a restart titles them)."""
        if self.job_queue is None:
            return 0
        from .workers import TITLE_JOB

        ids = await self._stores().threads.untitled_with_reply(limit)
        for thread_id in ids:
            await self.job_queue.enqueue(TITLE_JOB, {"thread_id": thread_id})
        return len(ids)

    async def list_models(self, name: str) -> list[str]:
        """The provider's model names (raises the provider's typed error)."""
        provider = await asyncio.to_thread(self.provider, name)
        return list(await provider.list_models())

    async def check(self, name: str, model: str | None = None) -> Readiness:
        """Whether a chat can start with provider ``name`` (built in a thread: the keyring lookup blocks)."""
        from .errors import AgentError
        from .providers.registry import Readiness

        try:
            provider = await asyncio.to_thread(self.provider, name)
        except AgentError as exc:
            return Readiness(False, str(exc))
        return await provider.check(model or None)

    # ---- turns

    async def _runner_of(self, thread_id: str, provider: str | None) -> AgentRunner:
        from .providers import registry

        thread = await self.threads.get(thread_id)
        if thread_id not in self._own and thread.get("user_id") == self.user_id:
            # The user's own thread made outside the app (`aiagents-tui ask`, a script on this database) has no
            # grant: without one the runner refuses to write to it.
            await self.adopt(thread_id)
            self._own.add(thread_id)
        if provider is None:
            provider = thread.get("provider") or self.config.default_provider or registry.DEFAULT_PROVIDER
        thinking = self.thinking_for(thread.get("model"))
        built = self._runners.get(self._runner_key(provider, thinking))
        if built is not None:
            return built  # no thread hand-off: the loop may be busy drawing, and this is on the way to the request
        # in a thread: a new client builds SSL contexts (~100 ms) and may read the keyring
        return await asyncio.to_thread(self.runner, provider, thinking)

    async def send(self, thread_id: str, text: str, *, provider: str | None = None,
                   images: Iterable[Any] | None = None) -> AsyncIterator[TurnEvent]:
        """Save ``text`` (with ``images``: paths, bytes or ``Image``s) and answer it, yielding the turn's events."""
        runner = await self._runner_of(thread_id, provider)
        async with aclosing(runner.run_stream(thread_id, self.user_id, text, images=list(images or ()) or None)) \
                as events:
            async for event in events:
                yield event

    async def resume(self, thread_id: str, *, provider: str | None = None) -> AsyncIterator[TurnEvent]:
        """Answer the thread's last user message again (retry, regenerate)."""
        runner = await self._runner_of(thread_id, provider)
        async with aclosing(runner.resume_stream(thread_id, self.user_id)) as events:
            async for event in events:
                yield event

    async def regenerate(self, thread_id: str, *, provider: str | None = None) -> AsyncIterator[TurnEvent]:
        """Answer the last user message again; the old reply stays on its slot as another alternative."""
        runner = await self._runner_of(thread_id, provider)
        async with aclosing(runner.regenerate_stream(thread_id, self.user_id)) as events:
            async for event in events:
                yield event

    def drafts(self) -> DraftStore:
        """The unsent composer texts, per thread (kept across restarts)."""
        from .store import DraftStore

        return DraftStore(self.conn)

    def state(self) -> StateStore:
        """Small facts about the last session (the thread to reopen)."""
        from .store import StateStore

        return StateStore(self.conn)

    def usage(self) -> Any:
        """Token totals by model, day or thread (``UsageStore``): the title bar's thread totals."""
        from .store.usage import UsageStore

        return UsageStore(self.conn)

    async def context(self, thread_id: str | None, *, provider: str | None = None, model: str | None = None,
                      strategy: Any = None, counter: Any = None) -> TurnContext:
        """What the next turn of ``thread_id`` sends (system prompt, facts, window, model, its context size)."""
        if counter is None:
            from .memory.tokens import TokenCounter

            counter = TokenCounter()  # the encoding is shared: loaded at most once per process
        return await thread_context(self._stores(), self.user_id, thread_id, strategy or self.memory_strategy(),
                                    counter, agent_id=await self.default_agent_id(), provider=provider, model=model,
                                    window_of=self.context_window)

    async def context_window(self, name: str | None, model: str | None) -> int | None:
        """The window the server reports for ``model`` (Ollama's /api/show, llama.cpp's /props...); None: unknown."""
        from .errors import AgentError

        if not name:
            return None
        try:
            provider = await asyncio.to_thread(self.provider, name)
            return await provider.get_context_window(model or None)
        except AgentError:  # unreachable or unknown: the registry's table stands in
            return None


async def thread_context(stores: Stores, user_id: str, thread_id: str | None, strategy: Any, counter: Any, *,
                         agent_id: str | None = None, provider: str | None = None,
                         model: str | None = None, window_of: Any = None) -> TurnContext:
    """The next turn's context as the runner builds it: the thread's agent, provider and model, else the given ones.

    ``agent_id``, ``provider`` and ``model`` are what a new chat would start with; ``window_of(provider, model)``
    gives the server's context window (else the registry's table is used).
    """
    from .errors import NotFoundError
    from .memory.context import build_context, model_for

    thread = await stores.threads.get(thread_id) if thread_id else None
    agent: dict[str, Any] = {}
    agent_id = (thread or {}).get("agent_id") or agent_id
    if agent_id:
        try:
            agent = dict(await stores.agents.get(agent_id))
        except NotFoundError:
            agent = {}
    provider = (thread or {}).get("provider") or provider or agent.get("provider")
    model = model_for(thread, provider, model, agent)
    return await build_context(
        messages=stores.messages, facts=stores.facts, user_id=user_id, thread=thread,
        prompt=agent.get("system_prompt") or "", strategy=strategy, counter=counter, provider=provider,
        model=model, window=await window_of(provider, model) if window_of is not None else None,
    )
