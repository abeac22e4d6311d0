"""Found by trying the real app as a daily user: each test failed before its fix."""

from __future__ import annotations

import pytest

from tests.fakes.llm_server import Reply

from .conftest import last_reply, ready, rendered_text, send, wait_until

pytestmark = pytest.mark.timeout(60)


async def test_keys_typed_while_nothing_has_focus_reach_the_composer(ollama_env, make_app):
    # Right after launch the keys arrive before the composer has the focus (tmux: the first ~0.3 s were lost).
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        app.screen.set_focus(None)
        await pilot.press("h", "i", "space", "t", "h", "e", "r", "e")
        assert app.composer.text == "hi there"
        assert app.focused is app.composer


async def test_enter_pressed_before_start_up_finished_sends_once_started(ollama_env, make_app):
    # Waiting for the database inside the screen's message handler held up the start-up: the app hung.
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.composer.focus()
        app.composer.load_text("early bird")
        await pilot.press("enter")
        await ready(pilot)
        await wait_until(pilot, lambda: last_reply(app) is not None
                         and "echo: early bird" in rendered_text(last_reply(app)), what="the early message answered")
        assert app.composer.text == ""
        assert len(ollama_env.chat_requests()) == 1


async def test_letters_typed_in_the_chat_pane_go_to_the_composer(ollama_env, make_app):
    # shift+tab from the composer focuses the chat pane; "hi can you" typed there used to vanish.
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("shift+tab")
        assert app.focused is app.chat_pane
        await pilot.press(*"hi can", "space", "y", "o", "u")
        assert app.composer.text == "hi can you"
        assert app.focused is app.composer


async def test_typing_on_in_the_search_hits_refines_the_search(ollama_env, make_app):
    # enter in the search box moves to the hits; the letters typed next used to vanish.
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        app.composer.load_text("a question about owls")
        await pilot.press("enter")
        await wait_until(pilot, lambda: last_reply(app) is not None and not app.turns[app.current_thread_id].running,
                         what="the reply")
        await pilot.press("ctrl+f", *"que")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.sidebar.has_class("-searching"), what="the hits")
        app.sidebar.results.focus()
        await pilot.press(*"stion")
        assert app.query_one("#search").value == "question"
        assert app.focused is app.query_one("#search")


async def test_edit_and_resend_types_after_the_text(ollama_env, make_app):
    # The edit box put the cursor before the text: " please" became " pleasefirst question".
    from tui_agents.tui.screens.dialogs import MenuScreen, TextPromptScreen

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        app.composer.load_text("first question")
        await pilot.press("enter")
        await wait_until(pilot, lambda: last_reply(app) is not None and not app.turns[app.current_thread_id].running,
                         what="the reply")
        await pilot.press("alt+up", "alt+up", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, MenuScreen), what="the message menu")
        menu = app.screen.query_one("#menu")
        menu.highlighted = [o.id for o in menu.options].index("edit")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, TextPromptScreen), what="the edit box")
        await pilot.press("space", *"please", "ctrl+s")
        await wait_until(pilot, lambda: last_reply(app) is not None
                         and "echo: first question please" in rendered_text(last_reply(app)), what="the edited reply")


async def _picker_with_models(pilot) -> None:
    from tui_agents.tui.screens.model_picker import ModelPickerScreen

    await pilot.press("ctrl+o")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, ModelPickerScreen)
                     and pilot.app.screen.query_one("#models").option_count == 2, what="the picker's models")


async def test_after_choosing_a_provider_typing_filters_its_models(ollama_env, make_app, monkeypatch):
    # Focus stayed on the provider box: "lar" typed next went nowhere.
    monkeypatch.setenv("OPENAI_BASE_URL", ollama_env.base_url + "/v1")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await _picker_with_models(pilot)
        await pilot.press("shift+tab", "enter", "down", "enter")  # the provider box: ollama -> openai
        await wait_until(pilot, lambda: app.screen.provider == "openai", what="openai chosen")
        await pilot.press(*"lar")
        assert app.screen.query_one("#model-name").value == "lar"
        await wait_until(pilot, lambda: app.screen.query_one("#models").option_count == 1, what="the filtered list")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.provider_name == "openai" and app.model_name == "fake-model-large",
                         what="the model picked")


async def test_a_letter_typed_on_the_provider_box_goes_to_the_filter(ollama_env, make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await _picker_with_models(pilot)
        await pilot.press("shift+tab", *"sma")
        assert app.screen.query_one("#model-name").value == "sma"
        assert app.screen.query_one("#models").option_count == 1


async def test_a_letter_typed_in_the_inspector_that_is_no_command_goes_to_the_composer(ollama_env, make_app):
    # With the inspector focused, "hello" went nowhere; its own keys (s: turn/thread) still work.
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: app.panel is not None and app.focused is not None
                         and app.panel in app.focused.ancestors_with_self, what="the inspector focused")
        await pilot.press("s")  # its command: says to open it from a message for one turn
        assert app.composer.text == "" and app.panel in app.focused.ancestors_with_self
        await pilot.press(*"hello")
        assert app.composer.text == "hello"
        assert app.focused is app.composer


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_the_agents_form_is_readable_and_every_template_shows_in_full(ollama_env, make_app, size):
    # At 80 columns the form had 22 columns ("Tools (ctrl+t; spac"); at 120 the third template was cut off.
    from tui_agents.tui.screens.agents import AgentsScreen

    app = make_app()
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        await pilot.press("f3")
        await wait_until(pilot, lambda: isinstance(app.screen, AgentsScreen) and app.screen.loaded, what="agents")
        await pilot.pause(0.1)
        screen = app.screen
        assert screen.query_one("#agent-form").region.width >= 44
        form = screen.query_one("#agent-form").region
        for button in screen.query("#templates Button"):
            label = str(button.label)
            assert button.region.width >= len(label) + 2, label
            assert form.contains_region(button.region), label
        for label in screen.query("#agent-form .field"):
            assert label.region.width <= form.width and label.size.height * label.size.width >= len(str(label.render())), \
                str(label.render())


async def test_the_help_and_the_theme_list_fit_an_80x24_terminal(ollama_env, make_app):
    # F1's 90-column box lost its right edge at 80 columns; the theme list ran past its box's bottom.
    from tui_agents.tui.screens.dialogs import HelpScreen, ThemePickerScreen

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="the keys")
        await pilot.pause(0.1)
        box = app.screen.query_one(".dialog").region
        assert box.right <= 80 and box.x >= 0
        await pilot.press("escape", "f9")
        await wait_until(pilot, lambda: isinstance(app.screen, ThemePickerScreen), what="the theme picker")
        await pilot.pause(0.1)
        dialog = app.screen.query_one(".dialog")
        assert dialog.content_region.contains_region(app.screen.query_one("OptionList").region)


async def test_settings_open_on_the_first_field(ollama_env, make_app):
    # The scroll area took the focus: tab then "abc" went nowhere instead of into the default model.
    from tui_agents.tui.screens.settings import SettingsScreen

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, SettingsScreen), what="the settings")
        await pilot.pause(0.1)
        assert app.focused is app.screen.query_one("#default-provider")
        await pilot.press("tab", *"abc")
        assert app.screen.query_one("#default-model").value == "abc"


async def test_an_enter_typed_before_the_terminal_was_set_up_sends(ollama_env, make_app):
    # Typed before the app set the terminal up, enter arrives as a line feed (ctrl+j): it became a new line.
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        app.screen.set_focus(None)
        await pilot.press(*"hi")
        app.screen.set_focus(None)
        await pilot.press("ctrl+j")
        await wait_until(pilot, lambda: last_reply(app) is not None and "echo: hi" in rendered_text(last_reply(app)),
                         what="the reply")


def test_the_welcome_names_a_keyless_local_server_and_keeps_wrapped_steps_indented():
    # A wrapped step started at the left edge, under the bullet; a local OpenAI-compatible server was not named.
    from rich.console import Console

    from tui_agents.tui.widgets.welcome import Welcome

    console = Console(width=70, record=True)
    console.print(Welcome._text(False, "Ollama is not reachable.", "ollama", ""))
    lines = console.export_text().splitlines()
    assert any("OPENAI_BASE_URL" in line for line in lines)
    start = next(i for i, line in enumerate(lines) if "Start Ollama" in line)
    column = lines[start].index("Start Ollama")
    wrapped = lines[start + 1]
    assert wrapped[:column].strip() == "" and wrapped[column] != " "  # the wrapped part starts under the text


async def test_tab_completes_an_image_path_and_a_wrong_path_keeps_the_prompt(ollama_env, make_app, tmp_path):
    # Tab moved the focus instead of completing ("red" was sent, the file is "red square.png"), and the error
    # closed the prompt, losing what was typed.
    from PIL import Image as PILImage

    from tui_agents.tui.widgets.attachments import AttachmentChip, AttachScreen

    PILImage.new("RGB", (8, 8), (200, 30, 30)).save(tmp_path / "red square.png", "PNG")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("alt+i")
        await wait_until(pilot, lambda: isinstance(app.screen, AttachScreen), what="the path prompt")
        box = app.screen.query_one("#image-path")
        await pilot.press(*f"{tmp_path}/nope")
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert isinstance(app.screen, AttachScreen) and box.value == f"{tmp_path}/nope"
        assert "There is no file at" in str(app.screen.query_one(".hint").render())
        box.value = ""
        await pilot.press(*f"{tmp_path}/re")
        await wait_until(pilot, lambda: box._suggestion.endswith("red square.png"), what="the completion")
        await pilot.press("tab")
        assert box.value == f"{tmp_path}/red square.png"
        await pilot.press("enter")
        await wait_until(pilot, lambda: list(app.screen_main.query(AttachmentChip)), what="the chip")


async def test_the_title_bar_shows_the_title_the_title_job_gave(ollama_env, make_app):
    # The sidebar showed the new title while the title bar kept the first words of the message.
    import asyncio

    from tui_agents.tui.screens.main import TitleBar

    app = make_app(background_jobs=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "help me plan the garden beds")
        await wait_until(pilot, lambda: app.current_thread_id is not None, what="the thread")
        title = None
        for _ in range(200):
            title = (await app.session.threads.get(app.current_thread_id)).get("title")
            if title:
                break
            await asyncio.sleep(0.1)
        assert title, "the title job never named the thread"
        await wait_until(pilot, lambda: app.screen_main.query_one(TitleBar).title == title, what="the title bar")


async def test_enter_twice_in_the_search_opens_the_first_hit(ollama_env, make_app):
    # The hits had no highlight after enter moved there: the second enter did nothing until down was pressed.
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "owls hunt at night")
        await wait_until(pilot, lambda: last_reply(app) is not None and not app.turns[app.current_thread_id].running,
                         what="the reply")
        first = app.current_thread_id
        await pilot.press("ctrl+n", "ctrl+f", *"owls")
        await wait_until(pilot, lambda: app.sidebar.has_class("-searching"), what="the hits")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.focused is app.sidebar.results, what="the hits focused")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.current_thread_id == first and app.focused is app.composer,
                         what="the hit's thread open")


async def test_the_search_mode_line_fits_the_sidebar(ollama_env, make_app):
    # "2 hits · newest first (ctrl+s: order)" was cut to "2 hits · newest first (ctrl+s:".
    from rich.text import Text

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await app.sidebar.show_hits("x", [{"thread_id": f"thr_{i}", "thread_title": "t", "snippet": "s"}
                                          for i in range(20)])
        await pilot.pause(0.05)
        mode = app.sidebar.query_one("#sidebar-mode")
        line = mode.render()
        text = line.plain if isinstance(line, Text) else str(line)
        assert "ctrl+s" in text and len(text.rstrip()) <= mode.content_region.width


async def test_the_delete_question_names_the_thread(ollama_env, make_app):
    # "Move this thread to the trash?" did not say which thread the tree's cursor was on.
    from tui_agents.tui.screens.dialogs import ConfirmScreen

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "owls hunt at night")
        await wait_until(pilot, lambda: last_reply(app) is not None and not app.turns[app.current_thread_id].running,
                         what="the reply")
        app.sidebar.tree.focus()
        app.sidebar.tree.select_thread(app.current_thread_id)
        await pilot.press("delete")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        assert "owls hunt at night" in app.screen.question


async def test_the_picker_shows_the_current_model_even_when_the_server_does_not_list_it(ollama_env, make_app):
    # Started with --model fake-model (not in the server's list), the picker showed no current model at all.
    from .conftest import screen_text

    app = make_app(model="fake-model")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ModelPickerScreen"
                         and app.screen.query_one("#models").option_count == 3, what="the list")
        options = app.screen.query_one("#models")
        assert options.get_option_at_index(options.highlighted).id == "fake-model"
        assert "● fake-model  current" in screen_text(app)
        await pilot.press("enter")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "MainScreen", what="closed")
        assert app.model_name == "fake-model"


async def test_search_as_you_type_matches_the_last_word_as_a_prefix_and_down_moves_into_the_hits(ollama_env, make_app):
    # "que" found nothing while "question" found the thread; down in the search box did nothing.
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "a question about owls")
        await wait_until(pilot, lambda: last_reply(app) is not None and not app.turns[app.current_thread_id].running,
                         what="the reply")
        await pilot.press("ctrl+f", *"que")
        await wait_until(pilot, lambda: app.sidebar.has_class("-searching") and getattr(app.sidebar.results, "hits",
                                                                                         None), what="the hits")
        assert any("question" in (h.get("snippet") or "") for h in app.sidebar.results.hits)
        await pilot.press("down")
        assert app.focused is app.sidebar.results and app.sidebar.results.highlighted == 0
