"""Chunks that arrive together (a fast server) reach the consumer as fewer deltas: every character, in order."""

from __future__ import annotations

import pytest

from tests.engine.test_runner import KINDS, collect, conn, new_thread, providers, rows, runner_for  # noqa: F401
from tests.fakes import Reply
from tui_agents.errors import StreamInterruptedError
from tui_agents.events import TextDelta, ThinkingDelta, TurnFailed, TurnFinished

TEXT = "".join(f"word{i} " for i in range(300)) + "END"


def _text(events, kind=TextDelta) -> str:
    return "".join(e.text for e in events if isinstance(e, kind))


@pytest.mark.parametrize("kind", KINDS)
async def test_a_burst_of_chunks_comes_as_fewer_deltas_with_every_character_in_order(conn, providers, fake_llm, kind):
    chunks = -(-len(TEXT) // 4)
    fake_llm.script(Reply(text=TEXT, chunk_chars=4, burst=chunks))  # all in one write
    thread_id = await new_thread(conn)
    runner = runner_for(conn, providers(kind))
    events = await collect(runner.run_stream(thread_id, "u", "Go fast"))
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert _text(events) == TEXT
    assert len(deltas) < chunks / 4  # a delta per read, not per chunk
    assert isinstance(events[-1], TurnFinished) and events[-1].text == TEXT
    reply = (await rows(conn, thread_id))[-1]
    assert (reply["status"], reply["content"]) == ("complete", TEXT)


async def test_chunks_that_come_apart_stay_one_delta_each(conn, providers, fake_llm):
    # a model streaming at a reading pace (here 50 chunks a second): nothing waits to be joined
    fake_llm.script(Reply(text="one two three four five ", chunk_chars=4, delay=0.02))
    thread_id = await new_thread(conn)
    runner = runner_for(conn, providers("ollama"))
    events = await collect(runner.run_stream(thread_id, "u", "Go slowly"))
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["one ", "two ", "thre", "e fo", "ur f", "ive "]


@pytest.mark.parametrize("kind", ["openai", "ollama"])
async def test_thinking_and_text_in_one_burst_keep_their_order(conn, providers, fake_llm, kind):
    thinking = "".join(f"step{i} " for i in range(60))
    fake_llm.script(Reply(text=TEXT, thinking=thinking, chunk_chars=5, burst=10_000))
    thread_id = await new_thread(conn)
    runner = runner_for(conn, providers(kind))
    events = await collect(runner.run_stream(thread_id, "u", "Think, then answer"))
    kinds = [type(e).__name__ for e in events if isinstance(e, (ThinkingDelta, TextDelta))]
    assert kinds == sorted(kinds, key=lambda name: name != "ThinkingDelta")  # all thinking before any text
    assert _text(events, ThinkingDelta) == thinking and _text(events) == TEXT


@pytest.mark.parametrize("kind", KINDS)
async def test_a_stream_cut_right_after_a_burst_keeps_all_the_text_of_the_burst(conn, providers, fake_llm, kind):
    fake_llm.script(Reply(text=TEXT, chunk_chars=4, burst=1000, cut_after_chunks=50))
    thread_id = await new_thread(conn)
    runner = runner_for(conn, providers(kind))
    events = await collect(runner.run_stream(thread_id, "u", "Go fast"))
    assert _text(events) == TEXT[:200]
    failed = events[-1]
    assert isinstance(failed, TurnFailed) and isinstance(failed.error, StreamInterruptedError)
    assert failed.partial_text == TEXT[:200]
    reply = (await rows(conn, thread_id))[-1]
    assert (reply["status"], reply["content"]) == ("error", TEXT[:200])
