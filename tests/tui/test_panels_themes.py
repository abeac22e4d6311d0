"""Theme files: the shipped ones load, malformed ones are skipped with a notice, the user's win."""

from __future__ import annotations

from pathlib import Path

import pytest

from textual.app import App
from textual.widgets import Label

from tui_agents.tui.themes import (
    builtin_themes_dir,
    default_theme_dirs,
    load_theme_file,
    load_themes,
    load_themes_report,
    register_themes,
    user_themes_dir,
)

REPO = Path(__file__).resolve().parents[2]
SHIPPED = {"aiagents-dark", "aiagents-light", "aiagents-high-contrast"}


def test_shipped_themes_load_with_dark_and_light():
    themes = {t.name: t for t in load_themes([REPO / "themes"])}
    assert set(themes) == SHIPPED
    assert themes["aiagents-light"].dark is False
    assert themes["aiagents-high-contrast"].background == "#000000"
    assert builtin_themes_dir() == REPO / "themes"


def test_package_data_copies_match_the_themes_folder():
    """Installed wheels read tui_agents/tui/builtin_themes: it must not drift from themes/."""
    copies = REPO / "tui_agents" / "tui" / "builtin_themes"
    originals = sorted(p.name for p in (REPO / "themes").glob("*.toml"))
    assert originals == sorted(p.name for p in copies.glob("*.toml"))
    for name in originals:
        assert (copies / name).read_bytes() == (REPO / "themes" / name).read_bytes(), name


def test_malformed_files_are_skipped_with_a_reason(tmp_path):
    (tmp_path / "good.toml").write_text('name = "mine"\nprimary = "#112233"\ndark = false\n')
    (tmp_path / "syntax.toml").write_text('name = "broken\n')
    (tmp_path / "colour.toml").write_text('name = "bad-colour"\nprimary = "not-a-colour"\n')
    (tmp_path / "noname.toml").write_text('primary = "#112233"\n')
    (tmp_path / "inject.toml").write_text('name = "inject"\nprimary = "#fff"\n[variables]\nborder = "red; } * { x"\n')
    (tmp_path / "typo.toml").write_text('name = "typo"\nprimray = "#fff"\nprimary = "#fff"\n')
    (tmp_path / "binary.toml").write_bytes(b"\xff\xfe\x00")
    (tmp_path / "notes.txt").write_text("ignored")
    load = load_themes_report([tmp_path, tmp_path / "missing"])
    assert [t.name for t in load.themes] == ["mine"]
    problems = "\n".join(load.problems)
    assert len(load.problems) == 6
    for fragment in ("syntax.toml", "'not-a-colour' is not a colour", "noname.toml: needs a name",
                     "inject.toml: variable 'border'", "unknown keys primray", "binary.toml"):
        assert fragment in problems


def test_user_themes_replace_shipped_ones_of_the_same_name(tmp_path, monkeypatch):
    user_dir = user_themes_dir()
    assert str(user_dir).startswith(str(tmp_path))  # the conftest points XDG_CONFIG_HOME into tmp_path
    user_dir.mkdir(parents=True)
    (user_dir / "override.toml").write_text('name = "aiagents-dark"\nprimary = "#ff0000"\n')
    themes = {t.name: t for t in load_themes(default_theme_dirs())}
    assert themes["aiagents-dark"].primary == "#ff0000"
    assert SHIPPED <= set(themes)


class _Host(App[None]):
    def compose(self):
        yield Label("host")


async def test_register_themes_makes_them_switchable_and_notifies_problems(tmp_path):
    user_dir = user_themes_dir()
    user_dir.mkdir(parents=True)
    (user_dir / "bad.toml").write_text("this is = = not toml")
    app = _Host()
    async with app.run_test(size=(80, 24)) as pilot:
        load = register_themes(app)
        assert {t.name for t in load.themes} == SHIPPED
        for name in SHIPPED:
            app.theme = name
            await pilot.pause()
            assert app.current_theme.name == name
        assert any("bad.toml" in n.message for n in app._notifications)


@pytest.mark.parametrize("theme", sorted(SHIPPED))
def test_snapshot_each_shipped_theme(snap_compare, tmp_path, theme):
    """The inspector (tables, status colours, detail) in each shipped theme."""
    import asyncio

    from tests.data.builders import tool_thread
    from tests.data.pilot import PanelHost, fixed_time, wait_until
    from tui_agents.store import connect
    from tui_agents.tui.screens.inspector import ToolInspector
    from tui_agents.tui.widgets.virtual_table import VirtualTable

    db = tmp_path / "theme.db"

    async def seed() -> str:
        conn = await connect(db)
        try:
            return (await tool_thread(conn))["thread"]["id"]
        finally:
            await conn.close()

    thread_id = asyncio.run(seed())
    app = PanelHost(db, lambda a: ToolInspector(a.stores.messages, thread_id, format_time=fixed_time), theme=theme)

    async def ready(pilot):
        await wait_until(pilot, lambda: pilot.app.panel is not None and pilot.app.panel.loaded)
        pilot.app.panel.query_one(VirtualTable).focus()
        await pilot.press("down", "down")
        assert pilot.app.theme == theme

    assert snap_compare(app, terminal_size=(100, 26), run_before=ready)


def test_the_default_theme_made_in_code_is_the_shipped_file():
    """The first frame's default theme (``default_theme``, no TOML read at start-up) must not drift from its file."""
    from tui_agents.tui.default_theme import default_theme

    assert default_theme() == load_theme_file(REPO / "themes" / "aiagents-dark.toml")
