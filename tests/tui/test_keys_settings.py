"""Keys (F1 help, palette, keymap), the model picker and the settings screen."""

from __future__ import annotations

import pytest

from tests.fakes.llm_server import Reply
from tui_agents.config import AppConfig

from .conftest import last_reply, ready, rendered_text, screen_text, send, wait_until

pytestmark = pytest.mark.timeout(60)


async def test_f1_lists_the_keys_of_the_focused_area(ollama_env, make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("f1")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        text = screen_text(app)
        assert "thread.new" in text and "composer.send" in text and "Enter sends it" in text
        await pilot.press("escape")
        app.sidebar.tree.focus()
        await pilot.press("f1")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        assert "thread.fork" in screen_text(app)


async def test_keymap_from_the_config_remaps_an_action(ollama_env, make_app):
    ollama_env.script(Reply(text="ok"))
    app = make_app(config=AppConfig(keymap={"thread.new": "f9"}))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "hello")
        await wait_until(pilot, lambda: app.current_thread_id is not None and "ok" in rendered_text(last_reply(app)))
        await pilot.press("f9")
        await wait_until(pilot, lambda: app.current_thread_id is None, what="new chat on f9")


async def test_the_command_palette_runs_app_actions(ollama_env, make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        assert not app.sidebar.has_class("-hidden")
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "CommandPalette")
        await pilot.press(*"Toggle sidebar")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.sidebar.has_class("-hidden"), what="sidebar hidden")


async def test_model_picker_lists_ollama_models_and_saves_the_choice(ollama_env, make_app):
    ollama_env.script(Reply(text="first"))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "hi")
        await wait_until(pilot, lambda: "first" in rendered_text(last_reply(app)))
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ModelPickerScreen")
        await wait_until(pilot, lambda: app.screen.query_one("#models").option_count == 2, what="model list")
        app.screen.query_one("#models").focus()
        app.screen.query_one("#models").highlighted = 0
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.model_name == "fake-model-large")
        thread = await app.session.threads.get(app.current_thread_id)
        assert (thread["provider"], thread["model"]) == ("ollama", "fake-model-large")
        assert "fake-model-large" in screen_text(app)


async def _open_settings(pilot) -> None:
    """Open the settings screen with its key, as a person would."""
    await pilot.press("f2")
    await wait_until(pilot, lambda: type(pilot.app.screen).__name__ == "SettingsScreen")


async def test_settings_without_a_keyring_names_the_env_var_and_never_shows_the_key(ollama_env, make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await _open_settings(pilot)
        field = app.screen.query_one("#key-openai")
        assert field.password
        field.value = "sk-very-secret-1234"
        await pilot.click("#save-key-openai")
        state = app.screen.query_one("#key-state-openai")
        await wait_until(pilot, lambda: "OPENAI_API_KEY" in str(state.render()), what="keyring message")
        assert field.value == ""
        assert "sk-very-secret" not in screen_text(app)


async def test_settings_save_writes_the_config_file(ollama_env, make_app, tmp_path):
    path = tmp_path / "config.toml"
    app = make_app(config_path=path, config=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await _open_settings(pilot)
        app.screen.query_one("#default-model").value = "fake-model-small"
        app.screen.query_one("#url-ollama").value = "http://" + ollama_env.host_port
        app.screen.query_one("#memory-params").value = "n=8"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "MainScreen")
    from tui_agents.config import load_config

    saved = load_config(path)
    assert saved.default_model == "fake-model-small"
    assert saved.providers.ollama.base_url == "http://" + ollama_env.host_port
    assert saved.memory.params == {"n": 8}


async def test_settings_save_changes_only_the_edited_line_of_a_hand_written_file(ollama_env, make_app, tmp_path):
    path = tmp_path / "config.toml"
    hand_written = ('# keep me\ntheme = "textual-dark"  # easy on the eyes\n\n'
                    '# my notes server\n[mcp_servers.notes]\ncommand = "npx"  # via node\n')
    path.write_text(hand_written, encoding="utf-8")
    app = make_app(config_path=path, config=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await _open_settings(pilot)
        app.screen.query_one("#default-model").value = "fake-model-small"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "MainScreen")
    assert path.read_text(encoding="utf-8") == hand_written.replace(
        '# easy on the eyes\n', '# easy on the eyes\ndefault_model = "fake-model-small"\n')


async def test_settings_save_over_a_file_the_app_could_not_read_says_so_and_keeps_it(ollama_env, make_app, tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('# mine\ntheme = "textual-dark"\ncolour = "red"\n', encoding="utf-8")
    app = make_app(config_path=path, config=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)  # the app runs on the defaults and says why
        await _open_settings(pilot)
        app.screen.query_one("#default-model").value = "fake-model-small"
        await pilot.press("ctrl+s")
        error = app.screen.query_one("#settings-error")
        await wait_until(pilot, lambda: "Not saved" in str(error.render()), what="the refusal")
        assert "bad value at colour" in str(error.render())
    assert path.read_text(encoding="utf-8") == '# mine\ntheme = "textual-dark"\ncolour = "red"\n'
