"""A draft is written the moment its thread is left, not only after the typing pause (a kill then loses nothing)."""

from __future__ import annotations

import pytest

from tests.fakes.llm_server import Reply
from tui_agents.tui.drafts import SAVE_AFTER

from .conftest import ready, send, wait_until

pytestmark = pytest.mark.timeout(60)


async def test_leaving_a_thread_writes_its_draft_at_once(ollama_env, make_app):
    ollama_env.script(Reply(text="an answer"))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "first message")
        await wait_until(pilot, lambda: not app.turns[app.current_thread_id].running, what="the reply")
        thread_id = app.current_thread_id
        await pilot.press(*"unsent words")
        await pilot.press("ctrl+n")  # at once: before the typing pause would have saved it
        await wait_until(pilot, lambda: app.current_thread_id is None, what="the new chat")
        drafts = app.session.drafts()
        saved: list[str] = []

        async def written() -> bool:
            saved[:] = [await drafts.get(thread_id)]
            return saved[0] == "unsent words"

        for _ in range(int(SAVE_AFTER / 0.05 / 2)):  # half the typing pause: the switch's own save, not the debounce
            if await written():
                break
            await pilot.pause(0.05)
        assert saved == ["unsent words"]
