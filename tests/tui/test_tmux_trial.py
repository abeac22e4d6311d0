"""Typing the moment the app starts: the real app in tmux, keys sent one by one as a person types.

The first keys reach the terminal before the app has drawn anything (Python is still starting); none
of them may be lost. Skipped when tmux is missing, except under CI=true (see test_tmux_daily).
"""

from __future__ import annotations

from tests.tui.test_tmux_daily import Terminal, terminal  # noqa: F401  (the fixture)


def test_keys_typed_right_after_launch_are_all_kept(terminal: Terminal) -> None:  # noqa: F811
    terminal.start()
    terminal.type("hello from the very start")  # at once: the app is still importing
    terminal.wait_text("hello from the very start")
    terminal.press("Enter")
    terminal.wait_text("echo: hello from the very start")
