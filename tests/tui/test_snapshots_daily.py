"""SVG snapshot of a fork whose reply has three versions: the title bar says where the thread came from.

Regenerate with ``pytest tests/tui/test_snapshots_daily.py --snapshot-update`` and review the SVG.
"""

from __future__ import annotations

import pytest

from .conftest import ready, screen_text, wait_until

SIZE = (120, 40)
pytestmark = pytest.mark.timeout(90)


async def _reply_with_versions(session, thread_id: str, texts: list[str], chosen: int) -> None:
    """The first text as the reply, each next one as a regenerated version; version ``chosen`` shown."""
    first = await session.messages.add(thread_id, "assistant", texts[0])
    for text in texts[1:]:
        begun = await session.messages.begin_alternative(thread_id)
        await session.messages.add(thread_id, "assistant", text)
        await session.messages.end_alternative(begun)
    await session.messages.select_alternative(first["id"], chosen)


def test_a_fork_with_a_regenerated_reply(snap_compare, make_app, ollama_env):
    app = make_app()

    async def run_before(pilot) -> None:
        await ready(pilot)
        app.composer.cursor_blink = False
        session = app.session
        root = await session.new_thread("ollama", "fake-model-small", title="Planning the garden")
        await session.messages.add(root["id"], "user", "Which vegetables grow well in shade?")
        await _reply_with_versions(session, root["id"], [
            "Lettuce and spinach.",
            "Lettuce, spinach and kale grow well in partial shade.",
            "Leafy greens: lettuce, spinach, chard and kale.",
        ], chosen=1)
        fork = await session.fork(root["id"])
        await app.screen_main.threads.reload_threads()
        await app.screen_main.threads.open_and_type(fork["id"])
        await wait_until(pilot, lambda: "◂ 2/3 ▸" in screen_text(app) and "forked from" in screen_text(app))
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
