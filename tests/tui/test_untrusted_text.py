"""Text from outside (server errors, model replies, file names) reaches the screen literally, never as markup."""

from __future__ import annotations

import pytest

from tests.fakes.llm_server import Reply

from .conftest import last_reply, ready, screen_text, send, wait_until

pytestmark = pytest.mark.timeout(60)

HOSTILE = "bad [/] [@click=app.quit]CLICK-ME[/] [/unknowntag] end"


def _toasts(app) -> list[str]:
    return [n.message for n in app._notifications]


async def test_a_reply_failing_in_view_shows_the_server_error_literally_in_the_thread(ollama_env, make_app):
    ollama_env.script(Reply(status=400, error_message=HOSTILE))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "hello")
        await wait_until(pilot, lambda: "CLICK-ME" in screen_text(app), what="the error notice")
        text = screen_text(app)
        assert "[@click=app.quit]CLICK-ME[/]" in text and "[/unknowntag]" in text
        assert app.is_running


async def test_a_reply_failing_out_of_view_is_a_literal_notification_that_clicks_nothing(ollama_env, make_app):
    ollama_env.script(Reply(status=400, error_message=HOSTILE, first_delay=0.6))
    app = make_app()
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await ready(pilot)
        await send(pilot, "hello")
        await wait_until(pilot, lambda: app.current_thread_id is not None)
        await pilot.press("ctrl+n")  # the thread leaves the view before its reply fails
        await wait_until(pilot, lambda: any("CLICK-ME" in m for m in _toasts(app)), what="the toast")
        await wait_until(pilot, lambda: "[@click=app.quit]CLICK-ME[/]" in screen_text(app), what="literal toast")
        assert all(not n.markup for n in app._notifications)
        toast = app.screen.query("Toast").last()
        await pilot.click(toast)  # a literal "[@click=...]" is just text: clicking only dismisses the toast
        await pilot.pause(0.2)
        assert app.is_running


async def test_a_notification_with_closing_tags_from_a_file_name_does_not_crash(ollama_env, make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=(160, 40), notifications=True) as pilot:
        await ready(pilot)
        await app.import_from(tmp_path / "[/]m[b].json")  # the path is echoed in the error toast
        await wait_until(pilot, lambda: "[/]m[b].json" in screen_text(app), what="the literal path")
        assert app.is_running


async def test_bidi_overrides_in_model_text_are_shown_not_applied(ollama_env, make_app):
    ollama_env.script(Reply(text="file\u202egnp.exe and \u2066isolated\u2069 DONE"))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "name a file")
        await wait_until(pilot, lambda: last_reply(app) is not None and "DONE" in screen_text(app), what="reply")
        text = screen_text(app)
        assert "file<U+202E>gnp.exe" in text and "<U+2066>isolated<U+2069>" in text
        assert "\u202e" not in text and "\u2066" not in text
