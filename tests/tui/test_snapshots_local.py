"""SVG snapshots of the local-model parts: thoughts folded and open, the models screen, attachment chips.

Fixed size, fixed clock, no blinking cursor. Regenerate with
``pytest tests/tui/test_snapshots_local.py --snapshot-update`` and review the SVGs.
"""

from __future__ import annotations

import pytest

from .conftest import last_reply, ready, wait_until

SIZE = (120, 40)
pytestmark = pytest.mark.timeout(90)

THOUGHT = ("The user asks which vegetables grow in shade.\n\n"
           "- Leafy greens need less sun than fruiting plants.\n- Kale and chard cope well.\n\n"
           "I will list the common ones.")


async def _thread_with_thoughts(pilot) -> None:
    app = pilot.app
    await ready(pilot)
    app.composer.cursor_blink = False
    session = app.session
    thread = await session.new_thread("ollama", "fake-model-small", title="Shade garden")
    await session.messages.add(thread["id"], "user", "Which vegetables grow well in shade?")
    await session.messages.add(thread["id"], "assistant", "Lettuce, spinach and kale grow well in partial shade.",
                               thinking=THOUGHT, meta={"thinking_ms": 12_400})
    await app.screen_main.threads.reload_threads()
    await app.screen_main.threads.open_thread(thread["id"])
    await wait_until(pilot, lambda: last_reply(app).thoughts is not None, what="the thoughts block")
    app.composer.focus()
    await pilot.pause(0.2)


def test_thoughts_folded(snap_compare, make_app, ollama_env):
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=_thread_with_thoughts)


def test_thoughts_open(snap_compare, make_app, ollama_env):
    async def run_before(pilot) -> None:
        await _thread_with_thoughts(pilot)
        await pilot.press("alt+t")
        await wait_until(pilot, lambda: not last_reply(pilot.app).thoughts.collapsed, what="opened")
        await pilot.pause(0.2)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_models_screen(snap_compare, make_app, ollama_env):
    from tui_agents.tui.screens.models import ModelsScreen

    ollama_env.models = ["fake-model-small", "gemma3:4b", "qwen3:4b"]
    ollama_env.loaded = ["fake-model-small"]
    ollama_env.model_details["fake-model-small"] = {"capabilities": ["completion", "tools", "thinking"],
                                                    "context_length": 40960, "family": "qwen3"}

    async def run_before(pilot) -> None:
        await ready(pilot)
        pilot.app.composer.cursor_blink = False
        await pilot.press("alt+m")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ModelsScreen), what="the models screen")
        screen = pilot.app.screen
        screen.query_one("#pull-name").cursor_blink = False
        # the fake server's port changes each run: the title shows a fixed one
        screen.query_one("#models-title").update("Ollama models · http://127.0.0.1:11434")
        await wait_until(pilot, lambda: "40,960 tokens" in str(screen.query_one("#details").render()),
                         what="the details")
        await pilot.pause(0.2)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_attachment_chips(snap_compare, make_app, ollama_env, tmp_path):
    from PIL import Image as PILImage

    paths = []
    for name, size in (("garden.png", (640, 480)), ("leaf.jpg", (120, 90))):
        path = tmp_path / name
        PILImage.new("RGB", size, (40, 160, 60)).save(path, "PNG" if name.endswith("png") else "JPEG")
        paths.append(path)

    async def run_before(pilot) -> None:
        await ready(pilot)
        app = pilot.app
        app.composer.cursor_blink = False
        await app.screen_main.local.attach_paths(paths)
        app.composer.load_text("What grows in this bed?")
        await wait_until(pilot, lambda: len(app.screen_main.local.pending_images) == 2, what="two chips")
        await pilot.pause(0.2)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)
