"""Issue 12 loose ends: model-written facts are marked, pending ones approved or rejected, the setting mirrored."""

from __future__ import annotations

from textual.widgets import Switch

from tests.data.builders import USER, seed_facts
from tests.data.pilot import PanelHost, wait_until
from tests.tui.conftest import ready, screen_text
from tui_agents.config import AppConfig, MemoryConfig, load_config
from tui_agents.store import UserMemoryStore, connect
from tui_agents.tui.screens.memory_panel import MemoryPanel
from tui_agents.tui.widgets.virtual_table import VirtualTable


def _rows(panel) -> list[tuple[str, ...]]:
    table = panel.query_one("#facts", VirtualTable)
    return [tuple(getattr(cell, "plain", cell) for cell in table.row(k)) for k in table.keys]


async def test_pending_facts_are_listed_and_y_approves_n_rejects(tmp_path):
    db = tmp_path / "m.db"
    conn = await connect(db)
    facts = UserMemoryStore(conn)
    await seed_facts(conn)
    await facts.set_requires_approval(USER, True)
    await facts.set(USER, "city", "Bergen", source="tool")
    await facts.set(USER, "pet", "a goat", source="extractor")
    await conn.close()
    app = PanelHost(db, lambda app: MemoryPanel(app.stores, USER, None))
    async with app.run_test(size=(110, 34)) as pilot:
        await wait_until(pilot, lambda: app.panel is not None and app.panel.facts_loaded, what="facts")
        panel = app.panel
        rows = _rows(panel)
        assert rows[-3:] == [("▸ waiting for you", "y approves · n rejects", ""), ("city", "Bergen", "model (tool)"),
                             ("pet", "a goat", "model (auto)")]
        table = panel.query_one("#facts", VirtualTable)
        table.focus()
        table.cursor = table.keys.index("pending:city")
        await pilot.press("y")
        await wait_until(pilot, lambda: ("city", "Bergen", "model (tool)") in _rows(panel)
                         and not any(k == "pending:city" for k in table.keys), what="city approved")
        table.cursor = table.keys.index("pending:pet")
        await pilot.press("n")
        await wait_until(pilot, lambda: "pending:pet" not in table.keys, what="pet rejected")
        assert "cat:pending" not in table.keys
        store = UserMemoryStore(app.conn)
        assert await store.get(USER, "city") == "Bergen"
        assert {f["key"]: f["source"] for f in await store.get_all(USER)}["city"] == "tool"
        assert await store.get(USER, "pet") is None and await store.list_pending(USER) == []


async def test_the_setting_reaches_the_store_on_open_and_on_save_and_a_strategy_change_keeps_it(
        ollama_env, make_app, tmp_path):
    path = tmp_path / "config.toml"
    app = make_app(config_path=path, config=AppConfig(memory=MemoryConfig(approve_model_facts=True)))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        assert await UserMemoryStore(app.session.conn).requires_approval(app.user_id) is True
        app.panels.strategy_changed("first_last", {"first": 2, "last": 6})
        assert app.config.memory.approve_model_facts is True
        assert app.session.config.memory.approve_model_facts is True
        await pilot.press("f2")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "SettingsScreen", what="settings")
        switch = app.screen.query_one("#approve-facts", Switch)
        assert switch.value is True
        switch.value = False
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "MainScreen", what="saved")
        await wait_until(pilot, lambda: app.config.memory.approve_model_facts is False, what="applied")
        assert await UserMemoryStore(app.session.conn).requires_approval(app.user_id) is False
    saved = load_config(path)
    assert saved.memory.approve_model_facts is False and saved.memory.strategy == "first_last"


async def test_settings_escape_asks_before_dropping_an_edit(ollama_env, make_app, tmp_path):
    app = make_app(config_path=tmp_path / "config.toml")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("f2")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "SettingsScreen", what="settings")
        await pilot.press("escape")  # nothing edited: leaves at once
        await wait_until(pilot, lambda: type(app.screen).__name__ == "MainScreen", what="left")
        await pilot.press("f2")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "SettingsScreen", what="settings again")
        settings = app.screen
        settings.query_one("#default-model").value = "fake-model-large"
        await pilot.press("escape")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", what="the question")
        assert "unsaved changes" in screen_text(app)
        await pilot.press("enter")  # keeps editing
        await wait_until(pilot, lambda: app.screen is settings, what="back in the form")
        assert settings.query_one("#default-model").value == "fake-model-large"
        await pilot.press("escape", "y")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "MainScreen", what="discarded")
        assert app.config.default_model is None
