"""A thread that `aiagents-tui ask` saved is continued in the app like one of its own."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.fakes.llm_server import Reply
from tui_agents.store import ThreadStore, connect

from .conftest import last_reply, ready, rendered_text, screen_text, send, wait_until

pytestmark = pytest.mark.timeout(90)
ROOT = Path(__file__).resolve().parents[2]


def _ask_command(db: Path, fake_llm, prompt: str, *options: str) -> tuple[list[str], dict[str, str]]:
    env = {key: value for key, value in os.environ.items() if not key.endswith("_API_KEY")}
    env.update(PYTHONPATH=str(ROOT), AIAGENTS_DB=str(db), AIAGENTS_CONFIG=str(db.parent / "none.toml"),
               OLLAMA_HOST=fake_llm.host_port)
    return [sys.executable, "-m", "tui_agents.cli", "ask", "--provider", "ollama", "--model", "fake-model-small",
            *options, prompt], env


def _ask(db: Path, fake_llm, prompt: str, *options: str) -> None:
    command, env = _ask_command(db, fake_llm, prompt, *options)
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr


async def _only_thread(db: Path) -> str:
    conn = await connect(db)
    try:
        threads = await ThreadStore(conn).list(limit=5)
    finally:
        await conn.close()
    assert len(threads) == 1
    return threads[0]["id"]


@asynccontextmanager
async def _open_asked_thread(ollama_env, make_app, tmp_path, answer: str = "First answer."):
    """A thread ``ask`` saved (its reply ``answer``), open in a warmed-up app: yields (app, pilot, db, thread id)."""
    db = tmp_path / "db.sqlite"
    ollama_env.script(Reply(text=answer), Reply(text="Shell question"))
    await asyncio.to_thread(_ask, db, ollama_env, "a first question")
    thread_id = await _only_thread(db)
    app = make_app(db_path=db)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await asyncio.wait_for(app.warm_up(), 20)
        await app.screen_main.threads.open_thread(thread_id)
        await wait_until(pilot, lambda: answer.split()[0] in screen_text(app), what="the thread")
        yield app, pilot, db, thread_id


async def test_a_thread_asked_from_the_shell_takes_a_reply_in_the_app(ollama_env, make_app, tmp_path):
    db = tmp_path / "db.sqlite"
    ollama_env.script(Reply(text="Asked from the shell."), Reply(text="Shell question"))
    await asyncio.to_thread(_ask, db, ollama_env, "a question from the shell")
    thread_id = await _only_thread(db)

    ollama_env.script(Reply(text="And answered in the app. FOLLOWUP"))
    app = make_app(db_path=db)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await app.screen_main.threads.open_thread(thread_id)
        await wait_until(pilot, lambda: "Asked from the shell." in screen_text(app), what="the shell's exchange")
        await send(pilot, "a follow-up in the app")
        await wait_until(pilot, lambda: not app.turns[thread_id].running, what="the turn's end")
        assert "may not write" not in screen_text(app)
        await wait_until(pilot, lambda: "FOLLOWUP" in rendered_text(last_reply(app)), what="the reply")
        records = await app.session.messages.list(thread_id)
        assert [(r["role"], r["status"]) for r in records][-2:] == [("user", "complete"), ("assistant", "complete")]


async def test_a_thread_asked_while_the_app_runs_appears_in_its_sidebar(ollama_env, make_app, tmp_path):
    db = tmp_path / "db.sqlite"
    app = make_app(db_path=db)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await asyncio.wait_for(app.warm_up(), 20)
        assert "Shell question" not in screen_text(app)
        ollama_env.script(Reply(text="Asked from another terminal."), Reply(text="Shell question"))
        await asyncio.to_thread(_ask, db, ollama_env, "a question from another terminal")
        await wait_until(pilot, lambda: "Shell question" in screen_text(app), timeout=10,
                         what="the other process's thread in the sidebar")
        assert app.current_thread_id is None, "the chat the user was in stays open"
        assert "● Shell question" in screen_text(app), "its reply is marked as not seen yet"
        thread_id = await _only_thread(db)
        await app.screen_main.threads.open_thread(thread_id)
        await wait_until(pilot, lambda: "● Shell question" not in screen_text(app), what="the mark gone once opened")


async def test_the_open_thread_shows_what_ask_adds_to_it_and_the_draft_stays(ollama_env, make_app, tmp_path):
    async with _open_asked_thread(ollama_env, make_app, tmp_path) as (app, pilot, db, thread_id):
        await pilot.press(*"half a tho")
        ollama_env.script(Reply(text="Continued from the shell. SHELLTWO"))
        await asyncio.to_thread(_ask, db, ollama_env, "a second question", "--thread", thread_id)
        await wait_until(pilot, lambda: "SHELLTWO" in screen_text(app), timeout=10,
                         what="the other process's exchange in the open chat")
        assert "a second question" in screen_text(app)
        assert app.composer.text == "half a tho", "the draft being typed is kept"
        assert app.focused is app.composer
        assert [view.message_id for view in app.chat_pane.views] == \
            [r["id"] for r in await app.session.messages.list(thread_id)]


async def test_a_reader_scrolled_up_keeps_their_place_when_ask_adds_to_the_thread(ollama_env, make_app, tmp_path):
    long = "\n\n".join(f"Paragraph {i} of a long answer." for i in range(40))
    async with _open_asked_thread(ollama_env, make_app, tmp_path, long) as (app, pilot, db, thread_id):
        pane = app.chat_pane
        await wait_until(pilot, lambda: pane.max_scroll_y > 20, what="a thread taller than the pane")
        pane.scroll_to(y=5, animate=False)
        await pilot.pause()
        place = pane.scroll_y
        ollama_env.script(Reply(text="Continued from the shell. SHELLTWO"))
        await asyncio.to_thread(_ask, db, ollama_env, "a second question", "--thread", thread_id)
        await wait_until(pilot, lambda: any("SHELLTWO" in (v.record.get("content") or "") for v in pane.views),
                         timeout=10, what="the new reply in the open chat")
        await pilot.pause()
        assert pane.scroll_y == place, "what the reader looks at stays in place"


async def test_a_reply_ask_streams_shows_as_arriving_and_as_interrupted_once_ask_is_killed(ollama_env, make_app,
                                                                                            tmp_path):
    async with _open_asked_thread(ollama_env, make_app, tmp_path) as (app, pilot, db, thread_id):
        ollama_env.script(Reply(text="PARTIAL1 PARTIAL2 never finished", chunk_chars=9, stall_after_chunks=2))
        command, env = _ask_command(db, ollama_env, "a question it never finishes", "--thread", thread_id)
        ask = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            await wait_until(pilot, lambda: "PARTIAL2" in screen_text(app) and "still arriving" in screen_text(app),
                             timeout=15, what="the reply another process streams, marked as arriving")
        finally:
            ask.kill()
            await asyncio.to_thread(ask.wait, 10)
        await wait_until(pilot, lambda: "interrupted" in screen_text(app), timeout=10,
                         what="the killed process's reply marked interrupted")
        assert "still arriving" not in screen_text(app)
        assert "PARTIAL2" in screen_text(app), "its partial text is kept"


async def test_what_ask_adds_while_the_apps_own_reply_streams_there_shows_once_that_reply_ends(ollama_env, make_app,
                                                                                                tmp_path):
    async with _open_asked_thread(ollama_env, make_app, tmp_path) as (app, pilot, db, thread_id):
        ollama_env.script(Reply(text="The app's own slow reply. APPSLOW", chunk_chars=4, delay=0.4),
                          Reply(text="Asked meanwhile from the shell. SHELLMEANWHILE"))
        await send(pilot, "a question in the app")
        await wait_until(pilot, lambda: app.turns[thread_id].running, what="the app's turn")
        await asyncio.to_thread(_ask, db, ollama_env, "a question from the shell meanwhile", "--thread", thread_id)
        await wait_until(pilot, lambda: not app.turns[thread_id].running, timeout=20, what="the app's turn's end")
        await wait_until(pilot, lambda: "SHELLMEANWHILE" in screen_text(app), timeout=10,
                         what="the shell's exchange, once the app's own reply ended")
        assert "APPSLOW" in screen_text(app)
        shown = [view.message_id for view in app.chat_pane.views]
        assert sorted(shown) == sorted(r["id"] for r in await app.session.messages.list(thread_id))
