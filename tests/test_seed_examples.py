"""Every Python snippet of the seed README runs against the fake LLM server, so the documented API cannot drift.

The snippets are read at test time from ``tests/seed_README.md`` (a copy of the
seed's ``ai-agents-README.md``; the shared folder is not in CI's clone), with
``ai_agents`` replaced by ``tui_agents``, and each ```python block is executed
as its own test case (top-level ``await`` allowed) in a namespace where:

- ``ANTHROPIC_BASE_URL``, ``OPENAI_BASE_URL`` and ``OLLAMA_HOST`` point the
  providers at the fake LLM server;
- the names the seed leaves for the reader to supply are defined:
  ``conn`` / ``database_connection`` (a SQLite file), ``auth`` /
  ``auth_service`` (``Auth`` on it), ``user_id`` ("user_123"), ``thread_id`` (a
  thread of user_123 with a few messages), ``messages`` (that thread's
  records), ``provider`` (an Anthropic provider at the fake), ``agent`` (for the
  streaming snippet), ``Agent``, ``AgentDefinition`` and ``asyncio`` (used
  without an import by three snippets), and a ``processing.queue`` module whose
  ``QueueRedisConfig`` is a plain config with a ``url`` (the "Your wrapper"
  of the Redis snippets), against a real redis-server on a free port.

Textual substitutions, the only edits made to the snippets (see ``SUBSTITUTIONS``):

- ``AgentDefinition(...)`` (a literal Ellipsis placeholder) becomes
  ``AgentDefinition(role="You are a helpful assistant.")``;
- ``Agent(...,`` (an Ellipsis for "your other arguments") becomes
  ``Agent(role="You are a helpful assistant.",``;
- ``"msg_xyz"`` (a made-up message id) becomes the id of a real message of ``thread_id``;
- ``redis://localhost:6379/0`` becomes the URL of the test's redis-server.

``role="..."`` is left as it is: the string "..." is a valid role.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import sys
import types
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import Reply, ToolCallSpec

SEED = Path(__file__).with_name("seed_README.md")
DEFINITION_PLACEHOLDER = 'AgentDefinition(role="You are a helpful assistant.")'


@dataclass(frozen=True)
class Snippet:
    """One ```python block of the seed and the heading path it sits under."""

    heading: str
    code: str


def load_snippets() -> list[Snippet]:
    """The seed's Python blocks in order, named "Section / Subsection" (numbered when a heading repeats)."""
    snippets: list[Snippet] = []
    headings: dict[int, str] = {}
    lines = SEED.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        heading = re.match(r"^(#{2,4})\s+(.*)$", line)
        if heading:
            level = len(heading.group(1))
            headings = {k: v for k, v in headings.items() if k < level}
            headings[level] = heading.group(2).strip()
        elif line.strip() == "```python":
            end = lines.index("```", index + 1)
            name = " / ".join(headings[k] for k in sorted(headings))
            taken = sum(1 for s in snippets if s.heading.split(" #")[0] == name)
            snippets.append(Snippet(f"{name} #{taken + 1}" if taken else name, "\n".join(lines[index + 1 : end])))
            index = end
        index += 1
    return snippets


SNIPPETS = load_snippets()


def substitutions(context: dict[str, str]) -> list[tuple[str, str]]:
    """The textual edits applied to every snippet (documented in the module docstring)."""
    return [
        ("ai_agents", "tui_agents"),
        ("AgentDefinition(...)", DEFINITION_PLACEHOLDER),
        ("Agent(...,", 'Agent(role="You are a helpful assistant.",'),
        ('"msg_xyz"', json.dumps(context["message_id"])),
        ("redis://localhost:6379/0", context.get("redis_url", "redis://localhost:6379/0")),
    ]


def prepared(code: str, context: dict[str, str]) -> str:
    for old, new in substitutions(context):
        code = code.replace(old, new)
    return code


async def run_snippet(code: str, namespace: dict[str, Any], name: str) -> None:
    """Execute ``code`` in ``namespace`` with top-level await allowed."""
    compiled = compile(code, f"<seed: {name}>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(compiled, namespace)  # noqa: S307 - executing our own documentation
    if inspect.iscoroutine(result):
        await result


# ---- what the fake server answers, and what each snippet must have done

Check = Callable[[dict[str, Any], Any], Awaitable[None]]


async def _quick_start(ns: dict[str, Any], fake: Any) -> None:
    assert ns["response"] == "echo: Different topic"
    from tui_agents.store import MessageStore

    assert await MessageStore(ns["agent"].conn).count(ns["agent"].thread_id) == 2


async def _definition(ns: dict[str, Any], fake: Any) -> None:
    assert "property management assistant" in ns["agent"].system_prompt
    assert "Be concise but friendly" in ns["agent"].system_prompt


async def _templates(ns: dict[str, Any], fake: Any) -> None:
    assert ns["agent"].system_prompt and ns["agent"].provider.name == "anthropic"


async def _providers(ns: dict[str, Any], fake: Any) -> None:
    assert (ns["agent"].provider.name, ns["agent"].model) == ("ollama", "llama3.1")


async def _streaming(ns: dict[str, Any], fake: Any) -> None:
    assert ns["chunk"]  # the loop ran
    assert "Tell me a story" in json.dumps(fake.chat_requests()[-1].body["messages"][-1])


async def _with_database(ns: dict[str, Any], fake: Any) -> None:
    assert ns["response"] == "echo: Hello"
    assert await ns["auth"].check("user_123", "write", "thread", ns["agent"].thread_id)


async def _runner(ns: dict[str, Any], fake: Any) -> None:
    assert ns["response"] == "echo: Hello!"


async def _memory_strategies(ns: dict[str, Any], fake: Any) -> None:
    assert ns["agent"].memory.max_tokens == 100000


async def _decorated_tools(ns: dict[str, Any], fake: Any) -> None:
    assert ns["response"] == "It is 100."
    from tui_agents.store import MessageStore

    results = [r for r in await MessageStore(ns["agent"].conn).list(ns["agent"].thread_id) if r["role"] == "tool"]
    assert [r["content"] for r in results] == ["100"]


async def _class_tools(ns: dict[str, Any], fake: Any) -> None:
    assert ns["response"] == "Sunny in London."
    request = fake.chat_requests()[-1].body["messages"]
    assert "Weather in London: Sunny, 72°F" in json.dumps(request, ensure_ascii=False)


async def _user_memory(ns: dict[str, Any], fake: Any) -> None:
    assert ns["name"] == "Phil" and len(ns["all_facts"]) == 3
    assert "Europe/London" in ns["context"]
    assert await ns["memory"].get("user_123", "language") == "English"


async def _thread_features(ns: dict[str, Any], fake: Any) -> None:
    assert ns["stats"]["forked_from"] is None and ns["stats"]["message_count"] == 2
    assert ns["branch"]["fork_kind"] == "branch" and ns["new_thread"]["fork_kind"] == "fork"
    assert any(hit["thread_id"] == ns["thread_id"] for hit in ns["results"])


async def _rate_limiting(ns: dict[str, Any], fake: Any) -> None:
    assert ns["limiter"].key == "anthropic:claude-sonnet-4-20250514"


async def _redis_limiter(ns: dict[str, Any], fake: Any) -> None:
    assert await ns["limiter"].acquire("openai:gpt-4o", estimated_tokens=10) == 0.0
    assert await ns["limiter"].check("openai:gpt-4o") == 0.0


async def _job_queue(ns: dict[str, Any], fake: Any) -> None:
    assert ns["job"].status in ("pending", "processing", "completed")
    await ns["queue"].start_worker()  # the snippet stops its worker at once: let the job finish now
    job = await ns["queue"].wait_for(ns["job_id"], timeout=15)
    assert (job.status, job.result) == ("completed", {"summary": "..."})


async def _redis_queue(ns: dict[str, Any], fake: Any) -> None:
    job_id = await ns["queue"].enqueue("noop", {"n": 1})
    assert (await ns["queue"].get_status(job_id)).status == "pending"


CHECKS: dict[str, Check] = {
    "Quick Start": _quick_start,
    "Agent Definition": _definition,
    "Templates": _templates,
    "Providers": _providers,
    "Streaming": _streaming,
    "With Database (Full Control)": _with_database,
    "Advanced: AgentRunner": _runner,
    "Memory Strategies": _memory_strategies,
    "Tools / @tool Decorator (Easy Way)": _decorated_tools,
    "Tools / Class-Based (Full Control)": _class_tools,
    "User Memory (Cross-Thread Facts)": _user_memory,
    "Thread Features": _thread_features,
    "Rate Limiting (Optional Redis)": _rate_limiting,
    "Rate Limiting (Optional Redis) / With Redis (Multi-Process)": _redis_limiter,
    "Job Queue (Optional Redis)": _job_queue,
    "Job Queue (Optional Redis) / With Redis": _redis_queue,
}

SCRIPTS: dict[str, list[Reply]] = {
    "Tools / @tool Decorator (Easy Way)": [
        Reply(tool_calls=[ToolCallSpec("calculate", {"expression": "25 * 4"}, id="toolu_1")]),
        Reply(text="It is 100."),
    ],
    "Tools / Class-Based (Full Control)": [
        Reply(tool_calls=[ToolCallSpec("get_weather", {"city": "London"}, id="toolu_2")]),
        Reply(text="Sunny in London."),
    ],
    "User Memory (Cross-Thread Facts)": [
        Reply(text=json.dumps({"facts": [{"key": "language", "value": "English", "category": "general"}]})),
    ],
}


def test_every_snippet_has_a_check():
    """A snippet added to the seed needs a check here; a renamed heading must not silently skip one."""
    names = [s.heading for s in SNIPPETS]
    assert len(names) == 16 and len(set(names)) == len(names)
    assert sorted(names) == sorted(CHECKS)


# ---- the harness


@pytest.fixture(scope="module")
def redis_url_for_seed():
    """A private redis-server for the two Redis snippets, started on first use."""
    from tests.limits.redis_server import RedisServer, require_redis_server

    server = RedisServer(require_redis_server()).start()
    yield server.url
    server.stop()


@pytest.fixture
def restore_tool_registry():
    """The snippets register tools globally (one replaces the builtin ``calculate``): undo that afterwards."""
    from tui_agents.tools import list_tools, register_tool
    from tui_agents.tools.registry import unregister_tool

    before = {t.name: t for t in list_tools()}
    yield
    for tool in list_tools():
        if tool.name not in before:
            unregister_tool(tool.name)
    for tool in before.values():
        register_tool(tool)


async def _namespace(tmp_path: Path, fake: Any, monkeypatch: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The names the seed leaves undefined, on a fresh SQLite file, with providers pointed at the fake."""
    import asyncio

    from tui_agents import Agent, AgentDefinition, get_provider
    from tui_agents.store import Auth, MessageStore, ThreadStore, connect

    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url + "/v1")
    monkeypatch.setenv("OLLAMA_HOST", fake.base_url)
    conn = await connect(tmp_path / "seed.db")
    auth = Auth(conn)
    thread = await ThreadStore(conn).create(None, title="Project kickoff", user_id="user_123")
    await auth.assign_role("user_123", "owner", "thread", thread["id"])
    messages = MessageStore(conn)
    first = await messages.add(thread["id"], "user", "I am planning the garden project for May.")
    await messages.add(thread["id"], "assistant", "Great, let us plan the project together.")
    namespace: dict[str, Any] = {
        "__name__": "seed_snippet",
        "asyncio": asyncio,
        "Agent": Agent,
        "AgentDefinition": AgentDefinition,
        "conn": conn,
        "database_connection": conn,
        "auth": auth,
        "auth_service": auth,
        "user_id": "user_123",
        "thread_id": thread["id"],
        "messages": await messages.list(thread["id"]),
        "provider": get_provider("anthropic", api_key="test"),
        "agent": Agent(role="You tell stories.", provider="anthropic", api_key="test"),
    }
    return namespace, {"message_id": first["id"]}


def _processing_queue_module() -> types.ModuleType:
    """The user's own Redis config wrapper the seed imports as ``processing.queue.QueueRedisConfig``."""

    @dataclass
    class QueueRedisConfig:
        url: str

    package = types.ModuleType("processing")
    module = types.ModuleType("processing.queue")
    module.QueueRedisConfig = QueueRedisConfig  # type: ignore[attr-defined]
    package.queue = module  # type: ignore[attr-defined]
    return package


async def _close_everything(namespace: dict[str, Any], conn: Any) -> None:
    """Close the clients, queues and limiters the snippet made, then the database."""
    for value in list(namespace.values()):
        module = type(value).__module__ or ""
        if module.startswith("tui_agents") and callable(getattr(value, "aclose", None)):
            await value.aclose()
    await conn.close()


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[s.heading for s in SNIPPETS])
async def test_seed_snippet_runs(snippet: Snippet, tmp_path, fake_llm, monkeypatch, request, restore_tool_registry):
    namespace, context = await _namespace(tmp_path, fake_llm, monkeypatch)
    if "processing.queue" in snippet.code:
        context["redis_url"] = request.getfixturevalue("redis_url_for_seed")
        package = _processing_queue_module()
        monkeypatch.setitem(sys.modules, "processing", package)
        monkeypatch.setitem(sys.modules, "processing.queue", package.queue)
    fake_llm.script(*SCRIPTS.get(snippet.heading, []))
    conn = namespace["conn"]
    try:
        await run_snippet(prepared(snippet.code, context), namespace, snippet.heading)
        await CHECKS[snippet.heading](namespace, fake_llm)
    finally:
        await _close_everything(namespace, conn)
