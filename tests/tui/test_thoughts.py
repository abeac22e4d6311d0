"""Thoughts in the app against the fake Ollama server: they stream above the reply, fold when it starts,
open again on a key or click, come back after a restart, and the per-model setting reaches the wire."""

from __future__ import annotations

import pytest

from tests.fakes.llm_server import Reply
from tui_agents.config import AppConfig, ThinkingConfig, load_config
from tui_agents.tui.widgets.thoughts import Thoughts, thought_for

from .conftest import last_reply, ready, rendered_text, screen_text, send, wait_until

pytestmark = pytest.mark.timeout(60)

THOUGHT = "Let me see. The user greets me, so a short greeting back is right.\n\nI will keep it brief."


def _thoughts(app) -> Thoughts | None:
    view = last_reply(app)
    return view.thoughts if view is not None else None


async def test_thoughts_stream_open_then_fold_when_the_reply_starts(ollama_env, make_app):
    # the reply waits after the thoughts, so the block is seen open while the model thinks
    ollama_env.script(Reply(thinking=THOUGHT, text="Hello! DONE", chunk_chars=6, delay=0.03))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "hi")
        await wait_until(pilot, lambda: "Let me see" in _thoughts(app).text, what="thoughts streaming")
        block = _thoughts(app)
        assert not block.collapsed
        assert "Thinking…" in screen_text(app)
        assert "Hello" not in rendered_text(last_reply(app))
        await wait_until(pilot, lambda: "DONE" in rendered_text(last_reply(app)), what="the reply")
        await wait_until(pilot, lambda: not app.turns[app.current_thread_id].running, what="the end")
        assert block.collapsed
        text = screen_text(app)
        assert "▸ Thought for" in text and "Let me see" not in text
        # the whole thought arrived even though it was folded while it streamed
        assert _thoughts(app).text.replace("\n", "").startswith("Let me see")
        records = await app.session.messages.list(app.current_thread_id)
        assert records[-1]["thinking"] == THOUGHT
        assert records[-1]["content"] == "Hello! DONE"
        await pilot.press("alt+t")
        await wait_until(pilot, lambda: "I will keep it brief" in screen_text(app), what="opened by key")


async def test_thoughts_come_back_folded_after_a_restart_and_open_on_click(ollama_env, make_app):
    ollama_env.script(Reply(thinking=THOUGHT, text="Hello there."))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "hi")
        await wait_until(pilot, lambda: "Hello there." in rendered_text(last_reply(app)), what="the reply")
        thread_id = app.current_thread_id
        await wait_until(pilot, lambda: not app.turns[thread_id].running, what="the end")
        saved = (await app.session.messages.list(thread_id))[-1]
        assert saved["meta"]["thinking_ms"] is not None
    app2 = make_app()
    async with app2.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await app2.screen_main.threads.open_thread(thread_id)
        await wait_until(pilot, lambda: _thoughts(app2) is not None, what="the saved thoughts")
        block = _thoughts(app2)
        assert block.collapsed
        assert thought_for(saved["meta"]["thinking_ms"]) in screen_text(app2)
        assert "Let me see" not in screen_text(app2)
        await pilot.click(block.header, offset=(4, 0))  # the focused pane's border shifts it by one
        await wait_until(pilot, lambda: "Let me see" in screen_text(app2), what="opened by click")
        await pilot.press("alt+h")  # hide every thought block
        await wait_until(pilot, lambda: "Let me see" not in screen_text(app2), what="hidden")
        assert "Hello there." in screen_text(app2)


async def test_the_per_model_setting_asks_the_wire_to_think(ollama_env, make_app, tmp_path):
    ollama_env.model_details["fake-model-small"] = {"capabilities": ["completion", "thinking"]}
    ollama_env.script(Reply(thinking="hmm", text="ok"), Reply(text="plain"))
    config = AppConfig(thinking={"fake-model-small": ThinkingConfig(enabled=True, level="high")})
    app = make_app(config=config, config_path=tmp_path / "config.toml")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "think hard")
        await wait_until(pilot, lambda: "ok" in rendered_text(last_reply(app)), what="the reply")
        body = ollama_env.chat_requests()[-1].body
        assert body["think"] == "high"
        await wait_until(pilot, lambda: not app.turns[app.current_thread_id].running, what="the end")
        app.screen_main.local.set_thinking("fake-model-small", {"enabled": False, "level": None,
                                                                "budget_tokens": None})
        await send(pilot, "now quickly")
        await wait_until(pilot, lambda: "plain" in rendered_text(last_reply(app)), what="the second reply")
        assert ollama_env.chat_requests()[-1].body.get("think") is False
        saved = load_config(tmp_path / "config.toml").thinking  # off is the default: an empty table holds it
        assert saved["fake-model-small"].enabled is False


async def test_alt_keys_from_a_terminal_run_their_action_instead_of_typing(ollama_env, make_app):
    from textual import events

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        app.composer.focus()
        app.post_message(events.Key("alt+h", "h"))  # what a terminal's ESC + h becomes
        await wait_until(pilot, lambda: app.screen_main.has_class("-hide-thoughts"), what="thoughts hidden")
        assert app.composer.text == ""
