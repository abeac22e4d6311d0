"""The status bar shows the context window the server reports (not a table's guess) and "≈" for estimates."""

from __future__ import annotations

import pytest

from tests.fakes.llm_server import Reply

from .conftest import last_reply, ready, rendered_text, screen_text, send, wait_until

pytestmark = pytest.mark.timeout(60)


async def test_the_status_bar_shows_the_window_ollama_reports_for_the_model(ollama_env, make_app):
    ollama_env.model_details["fake-model-small"] = {"context_length": 4096}
    ollama_env.script(Reply(text="short answer"))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "hello")
        await wait_until(pilot, lambda: "short answer" in rendered_text(last_reply(app)), what="the reply")
        await wait_until(pilot, lambda: app.status_bar.context_window == 4096, what="the server's window")
        assert " / 4096" in screen_text(app)
        assert "ctx ≈" in screen_text(app)  # tiktoken is not a local model's tokenizer: an estimate, said so


async def test_estimated_counts_are_marked(ollama_env, make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        bar = app.status_bar
        await wait_until(pilot, lambda: bar.context_window == 131072, what="the server's window first")
        bar.context_used, bar.context_window, bar.context_estimated = 1200, 4096, True
        await pilot.pause(0.1)
        assert "ctx ≈1200 / 4096" in screen_text(app)


async def test_picking_another_model_shows_its_own_window(ollama_env, make_app):
    ollama_env.model_details["gemma3:4b"] = {"context_length": 32768}
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await app.screen_main.turns.model_picked(("ollama", "gemma3:4b"))
        await wait_until(pilot, lambda: app.status_bar.context_window == 32768, what="gemma3's window")
