"""The working state of a pending reply, against the fake server: waiting seconds, stop key, stalls."""

from __future__ import annotations

import re

import pytest
from textual.binding import Binding

from tests.fakes.llm_server import Reply
from tui_agents.config import AppConfig, NetworkConfig
from tui_agents.tui.widgets.working import WorkingLine

from .conftest import last_reply, ready, rendered_text, screen_text, send, wait_until

pytestmark = pytest.mark.timeout(60)


def _working(app) -> WorkingLine | None:
    lines = list(app.screen.query(WorkingLine))
    return lines[0] if lines else None


def _line(app) -> str:
    line = _working(app)
    return str(line.render()) if line is not None else ""


async def test_the_waiting_line_counts_seconds_until_the_first_token_and_goes_with_the_reply(ollama_env, make_app):
    ollama_env.script(Reply(text="Loaded and DONE", first_delay=2.5))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "hello")
        await wait_until(pilot, lambda: _line(app).startswith("waiting for fake-model-small · "), what="waiting")
        assert _line(app).endswith(" · esc stops")
        assert "waiting for fake-model-small" in screen_text(app)
        line = _working(app)
        await wait_until(pilot, lambda: re.search(r" · [12] s · ", _line(app)), what="the seconds counting")
        await wait_until(pilot, lambda: "DONE" in rendered_text(last_reply(app)), what="the reply")
        await wait_until(pilot, lambda: not app.turns[app.current_thread_id].running, what="the end")
        assert _working(app) is None
        assert "esc stops" not in screen_text(app)
        assert line.timer is not None and line.timer._task is None  # no timer runs after the reply ended


async def test_streaming_shows_a_quiet_hint_and_a_stall_says_so_until_data_comes_again(ollama_env, make_app):
    # two chunks 2 s apart; a stall counts after 0.4 s without data
    ollama_env.script(Reply(text="first...second", chunk_chars=8, delay=2.0))
    app = make_app(config=AppConfig(network=NetworkConfig(stall_after=0.4)))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "go")
        await wait_until(pilot, lambda: "first" in rendered_text(last_reply(app)), what="the first chunk")
        await wait_until(pilot, lambda: _line(app).startswith("no data for "), what="the stall line")
        assert _line(app).endswith(" s · esc stops")
        assert _working(app).has_class("-stalled")
        await wait_until(pilot, lambda: "second" in rendered_text(last_reply(app)) or _line(app).startswith("streaming · "),
                         what="the resume")
        assert not _line(app).startswith("no data")
        await wait_until(pilot, lambda: not app.turns[app.current_thread_id].running, what="the end")
        assert _working(app) is None


async def test_a_streaming_reply_keeps_counting_seconds_from_enter(ollama_env, make_app):
    ollama_env.script(Reply(text="one.two.three.four", chunk_chars=4, delay=0.8))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "go")
        await wait_until(pilot, lambda: "one" in rendered_text(last_reply(app)), what="the first chunk")
        await wait_until(pilot, lambda: re.fullmatch(r"streaming · [1-9]\d* s · esc stops", _line(app)),
                         what="the streaming seconds")
        line = _working(app)
        assert line.timer is not None and line.timer._task is not None
        await wait_until(pilot, lambda: not app.turns[app.current_thread_id].running, what="the end")
        assert _working(app) is None


async def test_escape_stops_a_reply_that_is_still_waiting(ollama_env, make_app):
    ollama_env.script(Reply(text="too late", first_delay=8))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "hello")
        await wait_until(pilot, lambda: _line(app).startswith("waiting for"), what="waiting")
        await pilot.press("escape")
        thread_id = app.current_thread_id
        await wait_until(pilot, lambda: not app.turns[thread_id].running, timeout=5, what="the stop")
        await wait_until(pilot, lambda: "interrupted" in screen_text(app), what="the interrupted mark")
        assert _working(app) is None
        assert app.turns[thread_id].status == "interrupted"
    ollama_env.reset()


async def test_the_line_shows_the_remapped_stop_key(ollama_env, make_app):
    ollama_env.script(Reply(text="ok", first_delay=3))
    app = make_app(config=AppConfig(keymap={"reply.stop": "ctrl+x"}))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "hello")
        key = app.get_key_display(Binding("ctrl+x", "stop_reply"))
        await wait_until(pilot, lambda: _line(app).endswith(f" · {key} stops"), what="the remapped key")
        assert "esc" not in _line(app)
        await pilot.press("ctrl+x")
        await wait_until(pilot, lambda: not app.turns[app.current_thread_id].running, timeout=5, what="the stop")
    ollama_env.reset()
