"""SVG snapshot of the approval dialog (regenerate with ``--snapshot-update`` and review the SVG)."""

from __future__ import annotations

import pytest

from .conftest import ready, wait_until

SIZE = (120, 40)
pytestmark = pytest.mark.timeout(90)


def test_approval_dialog(snap_compare, make_app, ollama_env):
    from tui_agents.tui.screens.approval import ApprovalScreen

    app = make_app()
    arguments = {"path": "/home/me/notes/todo.md", "content": "[b]bold?[/b] no: literal\nsecond line", "mode": 644}

    async def run_before(pilot) -> None:
        await ready(pilot)
        app.composer.cursor_blink = False
        app.push_screen(ApprovalScreen("write_file", "files", arguments, thread="Planning the garden"))
        await wait_until(pilot, lambda: isinstance(app.screen, ApprovalScreen) and app.screen.armed)
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
