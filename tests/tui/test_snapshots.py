"""SVG snapshots of the main screens: fixed size, no cursor blink, fixed clock, no provider keys.

Regenerate with ``pytest tests/tui/test_snapshots.py --snapshot-update`` and review the SVGs.
"""

from __future__ import annotations

import time

import pytest

from tests.fakes.llm_server import Reply

from .conftest import last_reply, ready, rendered_text, wait_until

SIZE = (120, 40)
pytestmark = pytest.mark.timeout(90)


async def _steady(pilot) -> None:
    await ready(pilot)
    pilot.app.composer.cursor_blink = False
    await pilot.pause(0.1)


async def _seed_threads(app) -> dict[str, str]:
    """Two root threads, a fork and a branch of the first, with a few messages."""
    session = app.session
    root = await session.new_thread("ollama", "fake-model-small", title="Planning the garden")
    m1 = await session.messages.add(root["id"], "user", "Which vegetables grow well in shade?")
    await session.messages.add(root["id"], "assistant", "Lettuce, spinach and kale grow well in partial shade.")
    await session.threads.branch(root["id"], m1["id"], title="Shade question, take two")
    await session.threads.fork(root["id"], title="Garden plan copy")
    other = await session.new_thread("ollama", "fake-model-small", title="Rust lifetimes")
    await session.messages.add(other["id"], "user", "Explain lifetimes in one paragraph.")
    await app.screen_main.threads.reload_threads()
    return {"root": root["id"], "other": other["id"]}


def test_main_screen(snap_compare, make_app, ollama_env):
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=_steady)


def test_streaming_reply_with_a_code_block(snap_compare, make_app, ollama_env):
    ollama_env.script(Reply(text="Here is the fix:\n\n```python\ndef add(a, b):\n    return a + b\n```\n\nand then more",
                            chunk_chars=6, stall_after_chunks=12))
    app = make_app()

    async def run_before(pilot) -> None:
        await _steady(pilot)
        app.composer.load_text("fix my code")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "return a + b" in rendered_text(last_reply(app)), what="code block")
        state = app.turns[app.current_thread_id]
        state.started_at = time.time() + 0.5  # the working line's seconds: "0 s" however slow the machine
        state.working.update_state()
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_sidebar_tree_with_forks_and_branches(snap_compare, make_app, ollama_env):
    app = make_app()

    async def run_before(pilot) -> None:
        await _steady(pilot)
        ids = await _seed_threads(app)
        await app.screen_main.threads.open_thread(ids["root"])
        app.composer.focus()
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_search_results(snap_compare, make_app, ollama_env):
    app = make_app()

    async def run_before(pilot) -> None:
        await _steady(pilot)
        await _seed_threads(app)
        app.sidebar.query_one("#search").cursor_blink = False  # a blinking cursor made this snapshot flaky
        await pilot.press("ctrl+f", *"shade")
        await wait_until(pilot, lambda: app.sidebar.has_class("-searching") and app.sidebar.results.option_count)
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_settings(snap_compare, make_app, ollama_env):
    app = make_app()

    async def run_before(pilot) -> None:
        await _steady(pilot)
        await pilot.press("f2")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "SettingsScreen")
        await wait_until(pilot, lambda: "no key" in str(app.screen.query_one("#key-state-openai").render()))
        for widget in app.screen.query("Input"):
            widget.cursor_blink = False
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_first_run(snap_compare, make_app, monkeypatch):
    # A fixed address keeps the snapshot stable: nothing listens on the discard port.
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")
    app = make_app(provider=None, model=None)

    async def run_before(pilot) -> None:
        await _steady(pilot)
        await wait_until(pilot, lambda: app.provider_ok is False)
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
