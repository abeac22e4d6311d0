"""The Ollama models screen against the fake server: list, details, pull with progress, cancel, errors, delete."""

from __future__ import annotations

import time

import pytest

from tui_agents.tui.screens.models import ModelsScreen

from .conftest import ready, screen_text, wait_until

pytestmark = pytest.mark.timeout(60)


async def _open(pilot) -> ModelsScreen:
    await ready(pilot)
    await pilot.press("alt+m")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, ModelsScreen), what="the models screen")
    screen = pilot.app.screen
    await wait_until(pilot, lambda: screen.installed, what="the model list")
    return screen


async def test_the_list_shows_size_parameters_quantization_and_the_selected_models_details(ollama_env, make_app):
    ollama_env.models = ["fake-model-small", "gemma3:4b"]
    ollama_env.loaded = ["gemma3:4b"]
    ollama_env.model_details["gemma3:4b"] = {"capabilities": ["completion", "vision"], "context_length": 32768,
                                             "family": "gemma3"}
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot)
        text = screen_text(app)
        for fact in ("fake-model-small", "gemma3:4b", "1.9 GB", "3.2B", "Q4_K_M", "2025-05-22", "● now"):
            assert fact in text, fact
        screen.query_one("#models-table").focus()
        await pilot.press("down")
        await wait_until(pilot, lambda: "32,768 tokens" in screen_text(app), what="details of gemma3")
        text = screen_text(app)
        assert "sees images" in text and "in VRAM" in text
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ModelsScreen), what="closed")


async def test_a_pull_shows_progress_at_most_ten_times_a_second_and_installs_the_model(ollama_env, make_app):
    ollama_env.pullable["qwen3:4b"] = 50 * 1024 * 1024
    ollama_env.pull_steps = 60
    ollama_env.pull_delay = 0.03  # ~33 progress lines a second, over two seconds
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot)
        await pilot.press("p", *"qwen3:4b", "enter")
        await wait_until(pilot, lambda: "% ·" in screen_text(app) and "MB of 50.0 MB" in screen_text(app),
                         what="bytes and percent")
        started = screen.meter.started
        await wait_until(pilot, lambda: "qwen3:4b is installed." in screen_text(app), what="the end of the pull")
        elapsed = time.monotonic() - started
        assert screen.meter.draws <= elapsed * 10 + 3  # the timer draws, not each of the ~65 lines
        await wait_until(pilot, lambda: "qwen3:4b" in [m.name for m in screen.installed], what="listed")
        pull = [r for r in ollama_env.requests if r.path == "/api/pull"]
        assert pull[-1].body["model"] == "qwen3:4b"


async def test_escape_cancels_a_pull_and_a_second_escape_closes(ollama_env, make_app):
    ollama_env.pullable["big-model"] = 8 * 1024 ** 3
    ollama_env.pull_steps = 400
    ollama_env.pull_delay = 0.05
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot)
        await pilot.press("p", *"big-model", "enter")
        await wait_until(pilot, lambda: "GB of 8.0 GB" in screen_text(app), what="progress")
        await pilot.press("escape")
        await wait_until(pilot, lambda: "The pull of big-model was cancelled." in screen_text(app), what="cancel")
        assert isinstance(app.screen, ModelsScreen)
        assert "big-model" not in ollama_env.models
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ModelsScreen), what="closed")


async def test_pull_errors_are_one_plain_sentence(ollama_env, make_app):
    ollama_env.pullable["huge"] = 1024 ** 3
    ollama_env.pull_error = "write /models/blobs: no space left on device"
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await _open(pilot)
        await pilot.press("p", *"no-such-model", "enter")
        await wait_until(pilot, lambda: "Ollama has no model called no-such-model" in screen_text(app),
                         what="not found")
        app.screen.query_one("#pull-name").value = ""
        await pilot.press(*"huge", "enter")
        await wait_until(pilot, lambda: "ran out of disk space" in screen_text(app), what="disk full")
        assert "Traceback" not in screen_text(app)


async def test_delete_asks_first_and_removes_the_model(ollama_env, make_app):
    ollama_env.models = ["fake-model-small", "old-model"]
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot)
        table = screen.query_one("#models-table")
        table.focus()
        await pilot.press("down")
        await wait_until(pilot, lambda: screen.selected_name() == "old-model", what="cursor on old-model")
        await pilot.press("delete")
        await wait_until(pilot, lambda: "Delete old-model from Ollama?" in screen_text(app), what="the question")
        await pilot.press("escape")  # no: nothing deleted
        await pilot.pause(0.2)
        assert "old-model" in ollama_env.models
        await pilot.press("delete")
        await wait_until(pilot, lambda: "Delete old-model from Ollama?" in screen_text(app), what="asked again")
        await pilot.press("y")
        await wait_until(pilot, lambda: "old-model" not in [m.name for m in screen.installed], what="deleted")
        assert ollama_env.models == ["fake-model-small"]
        assert [r.body for r in ollama_env.requests if r.path == "/api/delete"] == [{"model": "old-model"}]


async def test_the_model_picker_marks_what_each_model_can_do_and_opens_the_models_screen(ollama_env, make_app):
    ollama_env.models = ["gemma3:4b", "qwen3:4b", "plain-model"]
    ollama_env.model_details["gemma3:4b"] = {"capabilities": ["completion", "vision"]}
    ollama_env.model_details["qwen3:4b"] = {"capabilities": ["completion", "tools", "thinking"]}
    ollama_env.model_details["plain-model"] = {"capabilities": ["completion"]}
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: "tools · thinks" in screen_text(app), what="capability marks")
        lines = screen_text(app).splitlines()
        assert any("gemma3:4b" in line and "sees images" in line for line in lines)
        assert not any("plain-model" in line and ("tools" in line or "images" in line) for line in lines)
        await pilot.press("alt+m")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen), what="the models screen")
