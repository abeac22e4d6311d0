"""What a streaming reply draws, against the fake server: rows kept from before a layout are still right."""

from __future__ import annotations

import asyncio
import difflib

import pytest

from tests.fakes.llm_server import Reply

from .conftest import last_reply, ready, rendered_text, screen_text, send, wait_until

pytestmark = pytest.mark.timeout(60)


def _full_repaint_text(app) -> str:
    """The screen as a repaint from scratch draws it (every widget's cached rows dropped first)."""
    for widget in app.screen.walk_children(with_self=True):
        widget._styles_cache.clear()  # private: the rows Textual keeps between frames
    return screen_text(app)


async def _after_a_frame(app) -> tuple[str, str]:
    """The screen as drawn, and as a full repaint draws it, both taken right after a frame."""
    done: asyncio.Future[tuple[str, str]] = asyncio.get_running_loop().create_future()
    app.screen.call_after_refresh(lambda: done.done() or done.set_result((screen_text(app), _full_repaint_text(app))))
    return await asyncio.wait_for(done, 10)


async def test_a_growing_reply_shows_the_same_rows_as_a_full_repaint(ollama_env, make_app):
    paragraph = "Word " * 60
    text = "\n\n".join(f"Para {i}. {paragraph}" for i in range(8)) + "\n\nDONE"
    ollama_env.script(Reply(text=text, chunk_chars=40, delay=0.06))  # ~3.6 s: room for several checks on a slow runner
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "hello")
        await wait_until(pilot, lambda: "Para 1." in rendered_text(last_reply(app)), what="the reply streaming")
        await pilot.press("alt+up")  # the streaming reply selected: a background and a left border on every row
        assert last_reply(app).has_class("-selected")
        checked = 0
        while "DONE" not in rendered_text(last_reply(app)):
            await pilot.pause(0.15)
            shown, full = await _after_a_frame(app)
            assert shown == full, "stale rows:\n" + "\n".join(difflib.unified_diff(full.splitlines(), shown.splitlines()))
            checked += 1
        assert checked >= 3


async def test_the_working_line_draws_each_new_second(ollama_env, make_app):
    # The line's text changes once a second without a layout (its size never changes): the new text must still
    # reach the screen, in the waiting state and in a stall.
    from tui_agents.config import AppConfig, NetworkConfig
    from tui_agents.tui.widgets.working import WorkingLine

    ollama_env.script(Reply(text="first...second DONE", chunk_chars=8, delay=1.6, first_delay=2.2))
    app = make_app(config=AppConfig(network=NetworkConfig(stall_after=0.4)))
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "hello")

        def line() -> str:
            lines = list(app.screen.query(WorkingLine))
            return str(lines[0].render()) if lines else ""

        for pattern in ("waiting for fake-model-small · 2 s", "no data for 1 s"):
            await wait_until(pilot, lambda: line().startswith(pattern), what=pattern)
            shown, full = await _after_a_frame(app)
            assert line() in shown, f"{line()!r} is not on the screen"
            assert shown == full, "stale rows:\n" + "\n".join(difflib.unified_diff(full.splitlines(), shown.splitlines()))
        await wait_until(pilot, lambda: "DONE" in rendered_text(last_reply(app)), what="the reply")
