"""Images in the app against the fake server: the path prompt, pasted paths, chips, each wire's image format,
a model without vision told before the request, and a too-large image shrunk only when the user says so."""

from __future__ import annotations

import base64
import random
from pathlib import Path

import pytest
from PIL import Image as PILImage
from textual import events

from tests.fakes.llm_server import Reply
from tui_agents.config import AppConfig
from tui_agents.tui.widgets.attachments import AttachmentBar, AttachmentChip, image_paths_in

from .conftest import last_reply, ready, rendered_text, screen_text, send, wait_until

pytestmark = pytest.mark.timeout(60)


def _png(path: Path, size=(64, 48), noise: bool = False) -> Path:
    picture = PILImage.new("RGB", size, (200, 30, 30))
    if noise:  # incompressible pixels: a file of a known, large size
        rng = random.Random(7)
        picture.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256))
                         for _ in range(size[0] * size[1])])
    picture.save(path, "PNG")
    return path


def _chips(app) -> list[AttachmentChip]:
    return list(app.screen_main.query(AttachmentChip))


def _notes(app) -> str:
    """The toasts shown so far (their text wraps on screen)."""
    return " ".join(n.message for n in app._notifications)


def _vision(fake) -> None:
    fake.model_details["fake-model-small"] = {"capabilities": ["completion", "vision"]}


async def test_the_prompt_attaches_an_image_shown_as_a_chip_and_ollama_receives_it(ollama_env, make_app, tmp_path):
    _vision(ollama_env)
    image = _png(tmp_path / "red square.png")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("alt+i")
        await wait_until(pilot, lambda: app.screen.query_one("#image-path"), what="the path prompt")
        app.screen.query_one("#image-path").value = f"'{image}'"
        await pilot.press("enter")
        await wait_until(pilot, lambda: _chips(app), what="the chip")
        size = image.stat().st_size
        assert f"red square.png · PNG · 64×48 · {size} B" in screen_text(app)
        await send(pilot, "what colour is this?")
        await wait_until(pilot, lambda: "echo" in rendered_text(last_reply(app)), what="the reply")
        body = ollama_env.chat_requests()[-1].body
        assert body["messages"][-1]["images"] == [base64.b64encode(image.read_bytes()).decode()]
        assert not _chips(app)  # sent: the next message starts without images
        records = await app.session.messages.list(app.current_thread_id)
        assert records[0]["images"][0]["name"] == "red square.png"
        assert "red square.png · PNG · 64×48" in screen_text(app)  # under the sent message


async def test_a_pasted_image_path_becomes_a_chip_and_a_click_removes_it(ollama_env, make_app, tmp_path):
    image = _png(tmp_path / "cat.png")
    assert image_paths_in(f"file://{image}\n") == [image]
    assert image_paths_in("just some text") == []
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        app.post_message(events.Paste(f"'{image}'"))  # to the app, as the terminal driver sends it
        await wait_until(pilot, lambda: _chips(app), what="the chip from a paste")
        assert app.composer.text == ""  # the path did not land in the text
        app.post_message(events.Paste("plain words"))
        await wait_until(pilot, lambda: app.composer.text == "plain words", what="ordinary paste")
        await pilot.click(_chips(app)[0], offset=(2, 0))
        await wait_until(pilot, lambda: not _chips(app), what="removed")
        assert app.screen_main.query_one(AttachmentBar).images == []


async def test_a_model_without_vision_is_told_before_any_request(ollama_env, make_app, tmp_path):
    ollama_env.model_details["fake-model-small"] = {"capabilities": ["completion", "tools"]}
    image = _png(tmp_path / "chart.png")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await app.screen_main.local.attach_paths([image])
        await send(pilot, "describe the chart")
        await wait_until(pilot, lambda: "cannot see images" in _notes(app), what="the warning")
        assert ollama_env.chat_requests() == []
        assert app.composer.text == "describe the chart" and _chips(app)


def _app_on(make_app, fake, provider: str, base_url: str):
    config = AppConfig.model_validate({"default_provider": provider,
                                       "providers": {provider: {"base_url": base_url}}})
    return make_app(provider=provider, model="fake-model-small", config=config)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_openai_and_anthropic_receive_the_image_in_their_own_format(fake_llm, make_app, tmp_path, provider,
                                                                         monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key-for-the-fake-server")
    image = _png(tmp_path / "dot.png")
    data = base64.b64encode(image.read_bytes()).decode()
    base_url = fake_llm.base_url + ("/v1" if provider == "openai" else "")
    app = _app_on(make_app, fake_llm, provider, base_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await app.screen_main.local.attach_paths([image])
        await wait_until(pilot, lambda: _chips(app), what="the chip")
        await send(pilot, "what is this?")
        await wait_until(pilot, lambda: fake_llm.chat_requests(), what="the request")
        content = fake_llm.chat_requests()[-1].body["messages"][-1]["content"]
        if provider == "openai":
            assert {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}} in content
        else:
            assert {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}} in content


async def test_a_too_large_image_is_shrunk_only_when_the_user_allows_it(fake_llm, make_app, tmp_path, monkeypatch):
    from tui_agents.providers.openai import OpenAIProvider

    monkeypatch.setattr(OpenAIProvider, "max_image_bytes", 20_000)  # a small limit, so a small file is too large
    big = _png(tmp_path / "photo.png", size=(120, 120), noise=True)
    assert big.stat().st_size > 20_000
    app = _app_on(make_app, fake_llm, "openai", fake_llm.base_url + "/v1")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        app.run_worker(app.screen_main.local.attach_paths([big]))
        await wait_until(pilot, lambda: "over the" in screen_text(app), what="the question")
        await pilot.press("escape")  # no
        await wait_until(pilot, lambda: "was not attached" in _notes(app), what="declined")
        assert not _chips(app)
        app.run_worker(app.screen_main.local.attach_paths([big]))
        await wait_until(pilot, lambda: "over the" in screen_text(app), what="asked again")
        await pilot.press("y")
        await wait_until(pilot, lambda: _chips(app), what="the smaller copy")
        small = _chips(app)[0].image
        assert len(small.data) <= 20_000 and small.width < 120
