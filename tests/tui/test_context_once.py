"""The memory panel, the status bar and the wire request agree on the context, for every memory strategy."""

from __future__ import annotations

import pytest

from tests.fakes.llm_server import Reply
from tui_agents.config import AppConfig, MemoryConfig

from .conftest import ready, send, wait_until

pytestmark = pytest.mark.timeout(90)

STRATEGIES = [
    ("last_n", {"n": 3}),
    ("first_last", {"first": 1, "last": 2}),
    ("token_window", {"max_tokens": 60}),
]


@pytest.mark.parametrize(("strategy", "params"), STRATEGIES, ids=[s for s, _ in STRATEGIES])
async def test_the_panel_shows_message_for_message_what_the_server_receives(ollama_env, make_app, strategy, params):
    from tui_agents.tui.screens.memory_panel import MemoryPanel

    app = make_app(config=AppConfig(memory=MemoryConfig(strategy=strategy, params=params)))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await app.stores.facts.set(app.user_id, "city", "Paris")
        for i in range(4):
            await send(pilot, f"question {i} " + "words " * i)
            await wait_until(pilot, lambda: app.turns[app.current_thread_id].status == "complete", what=f"turn {i}")
        thread_id = app.current_thread_id
        # a failed reply leaves the question unanswered: the panel then shows exactly what a retry sends
        ollama_env.script(Reply(status=400, error_message="no"))
        await send(pilot, "question 4")
        await wait_until(pilot, lambda: app.turns[thread_id].status == "error", what="the failed turn")

        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: isinstance(app.panel, MemoryPanel) and app.panel.context is not None
                         and "question 4" in [r.preview for r in app.panel.context.rows], what="the view")
        panel = app.panel
        shown = await app.session.messages.get_many(panel.context.message_ids)
        roles = [r.role for r in panel.context.rows]
        assert roles[:2] == ["system", "facts"]

        app.composer.focus()  # in the panel, f5 refreshes the panel
        await pilot.press("f5")
        await wait_until(pilot, lambda: app.turns[thread_id].status == "complete", what="the retried turn")
        wire = ollama_env.chat_requests()[-1].body["messages"]
        sent = [m for m in wire if m["role"] != "system"]
        assert [(m["role"], m["content"]) for m in sent] == [(r["role"], r["content"]) for r in shown]
        system = [m["content"] for m in wire if m["role"] == "system"]
        assert len(system) == 1 and "Paris" in system[0]
        assert 0 < len(sent) < 9  # the strategy left some of the thread out

        # after the turn, the status bar counts the context the panel lists for the next turn
        await wait_until(pilot, lambda: panel.context is not None and "echo: question 4" in
                         [r.preview for r in panel.context.rows], what="the view after the reply")
        await wait_until(pilot, lambda: app.status_bar.context_used == panel.context.total,
                         what=f"status bar {app.status_bar.context_used} == panel {panel.context.total}")
        assert app.status_bar.context_window == panel.context.window
        # an Ollama model's tokenizer is not tiktoken: both show the counts as estimates
        assert panel.context.estimated and app.status_bar.context_estimated
        assert "ctx ≈" in str(app.status_bar.render())


async def test_opening_a_thread_shows_its_own_context_in_the_status_bar(ollama_env, make_app):
    from tui_agents.tui.screens.memory_panel import MemoryPanel

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "a short one")
        await wait_until(pilot, lambda: app.turns[app.current_thread_id].status == "complete", what="turn 1")
        short = app.current_thread_id
        await pilot.press("ctrl+n")
        assert app.status_bar.context_used is None  # a new chat has nothing to count yet
        await send(pilot, "a much longer question " * 20)
        await wait_until(pilot, lambda: app.current_thread_id != short
                         and app.turns[app.current_thread_id].status == "complete", what="turn 2")
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: isinstance(app.panel, MemoryPanel) and app.panel.context is not None,
                         what="the memory panel")
        await app.screen_main.threads.open_thread(short)
        panel = app.panel
        await wait_until(pilot, lambda: panel.thread_id == short and panel.context is not None
                         and app.status_bar.context_used == panel.context.total,
                         what="the status bar and the panel on the short thread")
        assert panel.context.total < 100


async def test_the_context_is_recounted_after_a_reply_whose_end_failed_to_draw(ollama_env, make_app, monkeypatch):
    from tui_agents.tui.widgets.message import MessageView

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "a short one")
        thread_id = app.current_thread_id
        await wait_until(pilot, lambda: app.turns[thread_id].status == "complete", what="turn 1")
        await wait_until(pilot, lambda: app.status_bar.context_used is not None, what="the first count")
        before = app.status_bar.context_used

        async def broken(self, *args, **kwargs) -> None:
            raise RuntimeError("the usage line could not be drawn")

        # A display error other than a widget gone (NoMatches): injected, none can be provoked for real here.
        monkeypatch.setattr(MessageView, "show_usage", broken)
        await send(pilot, "a much longer question " * 20)
        await wait_until(pilot, lambda: app.turns[thread_id].status == "complete", what="turn 2")
        counted = await app.session.context(thread_id, provider="ollama", model="fake-model-small")
        assert counted.tokens > before
        await wait_until(pilot, lambda: app.status_bar.context_used == counted.tokens,
                         what=f"the status bar's count {app.status_bar.context_used} == {counted.tokens}")
