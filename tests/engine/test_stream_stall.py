"""A silence mid-reply is reported as it happens (StreamStalled), and its end too (StreamResumed)."""

from __future__ import annotations

import asyncio

import pytest

from tests.engine.test_runner import KINDS, collect, conn, new_thread, providers, rows, runner_for  # noqa: F401
from tests.fakes import Reply
from tui_agents.errors import ProviderError
from tui_agents.events import StreamResumed, StreamStalled, TextDelta, TurnFailed, TurnFinished


def _kinds(events) -> list[str]:
    """Event names, consecutive text deltas folded into one."""
    out: list[str] = []
    for event in events:
        name = type(event).__name__
        if not (out and out[-1] == name == "TextDelta"):
            out.append(name)
    return out


@pytest.mark.parametrize("kind", KINDS)
async def test_a_pause_mid_reply_is_reported_and_so_is_its_end(conn, providers, fake_llm, kind):
    fake_llm.script(Reply(text="aaabbbccc", chunk_chars=3, delay=0.6))
    thread_id = await new_thread(conn)
    runner = runner_for(conn, providers(kind), stall_after=0.3)
    events = await collect(runner.run_stream(thread_id, "u", "Go slowly"))
    names = _kinds(events)
    assert names.count("StreamStalled") == 2 and names.count("StreamResumed") == 2
    first_text = names.index("TextDelta")
    assert names[first_text:first_text + 4] == ["TextDelta", "StreamStalled", "StreamResumed", "TextDelta"]
    reply = (await rows(conn, thread_id))[-1]
    stalled = [e for e in events if isinstance(e, StreamStalled)]
    resumed = [e for e in events if isinstance(e, StreamResumed)]
    assert all(e.message_id == reply["id"] and 0.3 <= e.seconds < 0.6 for e in stalled)
    assert all(0.5 <= e.stalled_for < 1.5 for e in resumed)
    assert isinstance(events[-1], TurnFinished) and events[-1].text == "aaabbbccc"
    assert reply["content"] == "aaabbbccc"


async def test_a_steady_stream_and_a_slow_first_token_report_no_stall(conn, providers, fake_llm):
    # waiting for the first token is the app's "waiting for the model" state, not a stall
    fake_llm.script(Reply(text="quick reply here", chunk_chars=2, delay=0.01, first_delay=0.6))
    thread_id = await new_thread(conn)
    runner = runner_for(conn, providers("ollama"), stall_after=0.3)
    events = await collect(runner.run_stream(thread_id, "u", "Hi"))
    assert not [e for e in events if isinstance(e, (StreamStalled, StreamResumed))]
    assert isinstance(events[-1], TurnFinished)


async def test_stall_reports_can_be_turned_off(conn, providers, fake_llm):
    fake_llm.script(Reply(text="aaabbb", chunk_chars=3, delay=0.5))
    thread_id = await new_thread(conn)
    runner = runner_for(conn, providers("ollama"), stall_after=None)
    events = await collect(runner.run_stream(thread_id, "u", "Hi"))
    assert _kinds(events) == ["MessageSaved", "TextDelta", "UsageReported", "MessageSaved", "TurnFinished"]


async def test_a_stream_that_never_resumes_is_reported_then_times_out_with_the_text_kept(conn, providers, fake_llm):
    fake_llm.script(Reply(text="partial answer", chunk_chars=7, stall_after_chunks=1))
    thread_id = await new_thread(conn)
    runner = runner_for(conn, providers("ollama", timeout=1.5), stall_after=0.3)
    events = await collect(runner.run_stream(thread_id, "u", "Hi"))
    assert _kinds(events)[-4:] == ["TextDelta", "StreamStalled", "MessageSaved", "TurnFailed"]
    assert isinstance(events[-1].error, ProviderError)
    reply = (await rows(conn, thread_id))[-1]
    assert (reply["status"], reply["content"]) == ("error", "partial")


async def test_stopping_during_a_stall_leaves_the_reply_interrupted(conn, providers, fake_llm):
    fake_llm.script(Reply(text="partial answer", chunk_chars=7, stall_after_chunks=1))
    thread_id = await new_thread(conn)
    runner = runner_for(conn, providers("ollama"), stall_after=0.2)
    stalled = asyncio.Event()

    async def consume() -> None:
        async for event in runner.run_stream(thread_id, "u", "Hi"):
            if isinstance(event, StreamStalled):
                stalled.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(stalled.wait(), 15)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    reply = (await rows(conn, thread_id))[-1]
    assert (reply["status"], reply["content"]) == ("interrupted", "partial")
    # nothing of the stream is left running: a new turn on the thread goes through
    fake_llm.script(Reply(text="fine"))
    events = await collect(runner.run_stream(thread_id, "u", "Again"))
    assert isinstance(events[-1], TurnFinished) and not isinstance(events[-1], TurnFailed)
    assert [e for e in events if isinstance(e, TextDelta)]
