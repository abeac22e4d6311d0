"""``Agent``: the friendly facade over an ``AgentRunner``, its stores and a current thread.

    agent = Agent(name="Assistant", role="You help users.", provider="anthropic")
    reply = await agent.chat("Hello!")          # same thread next time
    await agent.chat("What is in this picture?", images=["cat.png"])
    agent.new_thread()                          # the next chat starts another one

Without ``conn`` the agent keeps its history in a private in-memory database,
opened on first use; without ``auth`` the local user may do everything.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, aclosing
from typing import Any

from .errors import InvalidArgumentError
from .events import TextDelta, TurnFailed
from .providers.base import Provider

__all__ = ["Agent"]

DEFAULT_NAME = "assistant"


def _compile_definition(definition: Any) -> str:
    """The system prompt an ``AgentDefinition`` compiles to."""
    for attribute in ("system_prompt", "compile", "to_system_prompt", "build_system_prompt"):
        value = getattr(definition, attribute, None)
        if callable(value):
            value = value()
        if isinstance(value, str):
            return value
    raise InvalidArgumentError("The agent definition cannot produce a system prompt.")


def _definition_dict(definition: Any) -> dict[str, Any] | None:
    if definition is None:
        return None
    dump = getattr(definition, "to_dict", None) or getattr(definition, "model_dump", None)
    return dump() if callable(dump) else None


class Agent:
    """A chat agent with persistence, tools, memory and an optional guardrail, limits and job queue."""

    def __init__(
        self,
        name: str | None = None,
        role: str | None = None,
        definition: Any = None,
        provider: str | Provider = "anthropic",
        api_key: str | None = None,
        model: str | None = None,
        tools: Sequence[Any] | None = None,
        memory_strategy: str = "last_n",
        memory_params: dict[str, Any] | None = None,
        conn: Any = None,
        auth: Any = None,
        judge_provider: Provider | str | None = None,
        guardrail_policy: str = "warn",
        base_url: str | None = None,
        rate_limiter: Any = None,
        job_queue: Any = None,
        user_id: str = "local",
        thinking: Any = None,
        approve: Any = None,
    ) -> None:
        """``thinking``: None/False (off), True, ``{"budget_tokens": N}`` or "low" | "medium" | "high"."""
        from .memory import get_memory_strategy

        if role is not None and definition is not None:
            raise InvalidArgumentError("Give an agent either a role or a definition, not both.")
        self.definition = definition
        self.role = role
        self.name = name or getattr(definition, "name", None) or DEFAULT_NAME
        self.system_prompt: str = _compile_definition(definition) if definition is not None else (role or "")
        from .providers.thinking import normalize_thinking

        self.thinking = normalize_thinking(thinking)
        self.provider, self._owns_provider = self._make_provider(provider, api_key, model, base_url)
        self.model = model or self.provider.model
        self.judge_provider = self._make_judge(judge_provider)
        self._owns_judge = isinstance(judge_provider, str)
        self.memory_strategy = memory_strategy
        self.memory_params = dict(memory_params or {})
        self.memory = get_memory_strategy(memory_strategy, **self.memory_params)
        self.tools = list(tools or [])
        self.user_id = user_id
        self.auth = auth
        self.guardrail_policy = guardrail_policy
        self.rate_limiter = rate_limiter
        self.job_queue = job_queue
        self.approve = approve  # approve(name, server, arguments) -> bool, before each tool call
        self._conn = conn
        self._owns_conn = conn is None
        self._runner: Any = None
        self._agent_id: str | None = None
        self._thread_id: str | None = None
        self._lock = asyncio.Lock()

    @staticmethod
    def _make_provider(
        provider: str | Provider, api_key: str | None, model: str | None, base_url: str | None
    ) -> tuple[Provider, bool]:
        if isinstance(provider, Provider):
            return provider, False
        from .providers import get_provider

        return get_provider(provider, api_key=api_key, model=model, base_url=base_url), True

    @staticmethod
    def _make_judge(judge: Provider | str | None) -> Provider | None:
        if judge is None or isinstance(judge, Provider):
            return judge
        from .providers import get_provider

        return get_provider(judge)

    # ---- state

    @property
    def thread_id(self) -> str | None:
        """The current thread's id (None until the first chat, or after ``new_thread``)."""
        return self._thread_id

    @property
    def conn(self) -> Any:
        """The database connection (None until first use when the agent opens its own)."""
        return self._conn

    @property
    def runner(self) -> Any:
        """The ``AgentRunner`` doing the work (None until first use)."""
        return self._runner

    def new_thread(self) -> None:
        """Start a new conversation: the next chat creates a new thread."""
        self._thread_id = None

    # ---- chatting

    async def chat(self, text: str, user_id: str | None = None, images: Sequence[Any] | None = None) -> str:
        """Send ``text`` (with ``images``: paths or bytes) on the current thread and return the reply."""
        uid = user_id or self.user_id
        thread_id = await self._prepare_thread(uid)
        return await self._runner.run(thread_id, uid, text, images=images)

    async def stream(self, text: str, user_id: str | None = None,
                     images: Sequence[Any] | None = None) -> AsyncIterator[str]:
        """Send ``text`` and yield the reply as it arrives, in text chunks (thinking is not included)."""
        uid = user_id or self.user_id
        thread_id = await self._prepare_thread(uid)
        async with aclosing(self._runner.run_stream(thread_id, uid, text, images=images)) as events:
            async for event in events:
                if isinstance(event, TextDelta):
                    yield event.text
                elif isinstance(event, TurnFailed):
                    raise event.error

    async def regenerate(self, thread_id: str | None = None, user_id: str | None = None) -> str:
        """Answer the last message of a thread (the current one by default) again; the old reply stays an alternative."""
        uid = user_id or self.user_id
        thread_id = thread_id or self._thread_id
        if thread_id is None:
            raise InvalidArgumentError("There is no conversation to regenerate yet; send a message first.")
        async with self._lock:
            if self._runner is None:
                await self._open()
        return await self._runner.regenerate(thread_id, uid)

    async def get_context_window(self) -> int | None:
        """The context window in effect for this agent's model, in tokens (as the server reports it)."""
        return await self.provider.get_context_window(self.model)

    async def _prepare_thread(self, user_id: str) -> str:
        """Open the database and agent record on first use, and create the thread lazily."""
        async with self._lock:
            if self._runner is None:
                await self._open()
            if self._thread_id is None:
                self._thread_id = await self._create_thread(user_id)
            return self._thread_id

    async def _open(self) -> None:
        from .runner import AgentRunner
        from .store import connect

        if self._conn is None:
            self._conn = await connect(":memory:")
        self._agent_id = await self._ensure_agent_record()
        self._runner = AgentRunner(
            self._conn, self.auth, self.provider, self.memory,
            judge_provider=self.judge_provider, tools=self.tools, rate_limiter=self.rate_limiter,
            job_queue=self.job_queue, guardrail_policy=self.guardrail_policy, approve=self.approve,
            # On the turns only: background jobs (titles, summaries) on the same provider do not think.
            thinking=self.thinking,
        )

    def _tool_names(self) -> list[str]:
        from .tool_rounds import is_tool_source
        from .tools import resolve_tools

        # A tool server's (MCP) tools are known only once it runs: the record keeps the local ones.
        return [tool.name for tool in resolve_tools([t for t in self.tools if not is_tool_source(t)])]

    async def _ensure_agent_record(self) -> str:
        """Create this agent's record, or reuse the one with its name (updated to match)."""
        from .store import AgentStore

        agents = AgentStore(self._conn)
        fields = {
            "system_prompt": self.system_prompt,
            "definition": _definition_dict(self.definition),
            "provider": self.provider.name,
            "model": self.model,
            "tools": self._tool_names(),
            "memory_strategy": self.memory_strategy,
            "memory_params": self.memory_params,
        }
        record = await agents.get_by_name(self.name)
        if record is None:
            record = await agents.create(self.name, **fields)
        elif any(record.get(key) != value for key, value in fields.items()):
            record = await agents.update(record["id"], **fields)
        return record["id"]

    async def _create_thread(self, user_id: str) -> str:
        from .store import ThreadStore

        threads = ThreadStore(self._conn)
        thread = await threads.create(self._agent_id, user_id=user_id)
        if self.model and self.model != self.provider.model:
            # A Provider instance was given with another model: the thread remembers it.
            await threads.set_model(thread["id"], self.provider.name, self.model)
        if self.auth is not None:
            await self.auth.assign_role(user_id, "owner", "thread", thread["id"])
        return thread["id"]

    # ---- lifetime

    async def aclose(self) -> None:
        """Close what the agent opened itself (provider clients, private database) and stop its tool servers."""
        from .tool_rounds import is_tool_source

        async with AsyncExitStack() as stack:  # every close runs, even when one of them fails
            for source in self.tools:
                if is_tool_source(source):
                    stack.push_async_callback(source.aclose)
            if self._owns_conn and self._conn is not None:
                stack.push_async_callback(self._close_conn)
            if self._owns_judge and self.judge_provider is not None:
                stack.push_async_callback(self.judge_provider.aclose)
            if self._owns_provider:
                stack.push_async_callback(self.provider.aclose)

    async def _close_conn(self) -> None:
        conn, self._conn, self._runner, self._thread_id = self._conn, None, None, None
        await conn.close()

    async def __aenter__(self) -> "Agent":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"Agent(name={self.name!r}, provider={self.provider.name!r}, model={self.model!r})"
