"""Tools that never end hold neither the turn nor the process: the timeout ends the wait regardless."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.engine.test_runner import (
    chat_requests,
    collect,
    conn,  # noqa: F401 - fixture
    new_thread,
    providers,  # noqa: F401 - fixture
    rows,
    runner_for,
    wait_until,
)
from tests.fakes import Reply, ToolCallSpec
from tui_agents.events import ToolCallFinished
from tui_agents.tools import register_tool, tool

ROOT = Path(__file__).resolve().parents[2]


class Stubborn:
    """An async tool body that ignores every cancellation until the test releases it."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.cancels = 0

    async def __call__(self) -> str:
        self.started.set()
        while not self.release.is_set():
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                self.cancels += 1  # swallowed: the tool goes on
        return "finally done"


@pytest.fixture
async def stubborn():
    body = Stubborn()
    yield body
    body.release.set()  # let the abandoned task end before the loop closes
    await asyncio.sleep(0.05)


def make_tool(body: Stubborn, name: str, timeout: float | None):
    async def stubborn_tool() -> str:
        """Ignores cancellation."""
        return await body()

    return tool(name=name, timeout=timeout, description="Ignores cancellation.", register=False)(stubborn_tool)


async def test_a_tool_that_swallows_cancellation_still_times_out(stubborn):
    slow = make_tool(stubborn, "th_stubborn", timeout=0.3)
    started = time.monotonic()

    result = await asyncio.wait_for(slow.tool.run({}), 10)

    assert (result.status, result.is_error) == ("timeout", True)
    assert "timed out after 0.3 seconds" in result.content
    assert time.monotonic() - started < 5
    assert stubborn.cancels >= 1  # it was asked to stop, and it refused


async def test_cancelling_a_call_to_a_stubborn_tool_returns_at_once(stubborn):
    slow = make_tool(stubborn, "th_stubborn_none", timeout=None)
    call = asyncio.create_task(slow.tool.run({}))
    await asyncio.wait_for(stubborn.started.wait(), 5)

    call.cancel()
    done, _ = await asyncio.wait({call}, timeout=5)

    assert done and call.cancelled()


async def test_the_runner_tool_timeout_ends_the_turns_wait_for_a_stubborn_tool(conn, providers, fake_llm, stubborn):
    slow = make_tool(stubborn, "th_runner_stubborn", timeout=None)
    register_tool(slow.tool)
    fake_llm.script(Reply(tool_calls=[ToolCallSpec("th_runner_stubborn", {}, id="s1")]), Reply(text="It hung."))
    thread_id = await new_thread(conn)
    runner = runner_for(conn, providers("anthropic"), tools=["th_runner_stubborn"], tool_timeout=0.3)

    events = await asyncio.wait_for(collect(runner.run_stream(thread_id, "alice", "Try it")), 15)

    finished = [e for e in events if isinstance(e, ToolCallFinished)]
    assert [(e.status, e.result) for e in finished] == [("timeout", None)]
    assert "did not finish within 0.3 seconds" in finished[0].error
    assert events[-1].text == "It hung."
    (saved,) = [r for r in await rows(conn, thread_id) if r["role"] == "tool"]
    assert saved["meta"]["status"] == "timeout"
    assert len(chat_requests(fake_llm)) == 2  # the model was told, and answered


async def test_stopping_a_turn_during_a_stubborn_tool_returns_promptly(conn, providers, fake_llm, stubborn):
    slow = make_tool(stubborn, "th_stop_stubborn", timeout=None)
    register_tool(slow.tool)
    fake_llm.script(Reply(tool_calls=[ToolCallSpec("th_stop_stubborn", {}, id="s2")]))
    thread_id = await new_thread(conn)
    runner = runner_for(conn, providers("anthropic"), tools=["th_stop_stubborn"])

    turn = asyncio.create_task(runner.run(thread_id, "alice", "Block"))
    await wait_until(stubborn.started.is_set)
    turn.cancel()
    done, _ = await asyncio.wait({turn}, timeout=10)

    assert done and turn.cancelled()
    (saved,) = [r for r in await rows(conn, thread_id) if r["role"] == "tool"]
    assert "cancelled" in saved["content"]


def test_a_blocking_sync_tool_does_not_delay_exit(tmp_path):
    script = tmp_path / "blocking.py"
    script.write_text(textwrap.dedent("""
        import asyncio, time
        from tui_agents.tools import tool

        @tool(timeout=0.3, register=False)
        def sleeper() -> str:
            "Blocks for two minutes."
            time.sleep(120)
            return "woke"

        async def main():
            result = await sleeper.tool.run({})
            print(result.status, flush=True)

        asyncio.run(main())
    """))
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "timeout"
    assert time.monotonic() - started < 30  # well under the tool's 120 s


async def test_a_sync_tool_result_and_error_still_arrive():
    @tool(register=False, timeout=5)
    def double(n: int) -> int:
        """Doubles."""
        return n * 2

    @tool(register=False, timeout=5)
    def broken() -> str:
        """Raises."""
        raise ValueError("no luck")

    assert (await double.tool.run({"n": 21})).content == "42"
    failed = await broken.tool.run({})
    assert failed.status == "error" and "ValueError: no luck" in failed.content
