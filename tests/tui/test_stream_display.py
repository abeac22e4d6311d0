"""What a streaming reply draws, against the fake server: rows kept from before a layout are still right."""

from __future__ import annotations

import asyncio
import difflib

import pytest

from tests.fakes.llm_server import Reply

from .conftest import last_reply, ready, rendered_text, screen_text, send, wait_until

pytestmark = pytest.mark.timeout(60)


def _full_repaint_text(app) -> str:
    """The screen as a repaint from scratch draws it (every widget's cached rows dropped first)."""
    for widget in app.screen.walk_children(with_self=True):
        widget._styles_cache.clear()  # private: the rows Textual keeps between frames
    return screen_text(app)


def _pending(app) -> bool:
    """Whether a change is on its way to the terminal: a widget marked for new styles, a repaint, a layout or a
    scroll, or its message to the screen, not drawn yet. A timer marks its widget in the step it changes it."""
    from textual import messages

    screen = app.screen  # private below: Textual's marks between a change and the frame that draws it
    if (app._batch_count or screen._layout_required or screen._scroll_required or screen._repaint_required
            or screen._dirty_widgets or screen._layout_widgets):
        return True
    if any(isinstance(message, (messages.Update, messages.Layout, messages.UpdateScroll))
           for message in [screen._pending_message, *screen._message_queue.values]):
        return True
    widgets = [*screen.walk_children(), *screen._compositor.visible_widgets]  # the latter has the scroll bars
    return any(w._refresh_styles_required or w._repaint_required or w._layout_required or w._scroll_required
               for w in widgets)


async def _settled(app, terminal=None, timeout: float = 10) -> tuple[str, str, list[str]]:
    """The screen as drawn, as a full repaint draws it, and the terminal's stale rows, taken in one step at a moment
    no change is on its way: whatever a timer changed before that step has reached the terminal already.

    (Taken right after a frame instead, a timer's task could change what a widget shows before the repaint
    from scratch: a difference no frame caused, ~1 run in 6 under load.)
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while _pending(app):
        assert loop.time() < deadline, "the screen had changes on their way for 10 s"
        await asyncio.sleep(0.002)
    # no await from the check above to the end: no other task can change what is shown in between
    shown = screen_text(app)  # first: the others drop the rows Textual keeps between frames
    full = _full_repaint_text(app)
    return shown, full, terminal.differences() if terminal is not None else []


class _Terminal:
    """What the app's frames wrote, cell by cell (text and style): each update is replayed as a terminal would."""

    def __init__(self, app) -> None:
        self.app = app  # the composer's cursor blinks: its frames are replayed and compared too
        self.cells: dict[tuple[int, int], tuple[str, object]] = {}
        self.frames = 0
        display = app._display  # private: the one place a frame (full or partial) goes to the terminal

        def record(screen, renderable) -> None:
            if renderable is not None and screen is app.screen:
                self.frames += 1
                self.write(app.console.render(renderable, app.console.options))
            display(screen, renderable)

        app._display = record

    def write(self, segments) -> None:
        from rich.cells import cell_len
        from rich.segment import ControlType

        x = y = 0
        for segment in segments:
            if segment.control:
                for code in segment.control:
                    if code[0] == ControlType.CURSOR_MOVE_TO:
                        x, y = code[1], code[2]
                continue
            if segment.text == "\n":
                continue
            for char in segment.text:
                self.cells[(x, y)] = (char, segment.style)
                x += cell_len(char)

    def differences(self) -> list[str]:
        """Rows where the terminal differs from a repaint from scratch (text or style)."""
        full = _Terminal.__new__(_Terminal)
        full.cells = {}
        for widget in self.app.screen.walk_children(with_self=True):
            # private: scrollbars are not in the DOM
            for each in (widget, widget._vertical_scrollbar, widget._horizontal_scrollbar):
                if each is not None:  # private: the rows Textual keeps between frames, styled and not
                    each._styles_cache.clear()
                    each._dirty_regions.add(each.size.region)
                    each._visual_style = None
        strips = self.app.screen._compositor.render_strips()
        from textual.strip import Strip

        full.write(seg for y, strip in enumerate(strips) for seg in ([_move(0, y)] + list(Strip(strip))))
        rows = sorted({y for _, y in full.cells})
        bad = []
        for y in rows:
            width = max(x for x, row in full.cells if row == y) + 1
            mine = [self.cells.get((x, y)) for x in range(width)]
            theirs = [full.cells.get((x, y)) for x in range(width)]
            if mine != theirs:
                bad.append(f"row {y}: drawn {''.join(c[0] if c else '?' for c in mine)!r}")
        return bad


def _move(x: int, y: int):
    from rich.control import Control

    return Control.move_to(x, y).segment


async def test_a_growing_reply_shows_the_same_rows_as_a_full_repaint(ollama_env, make_app):
    paragraph = "Word " * 60
    text = "\n\n".join(f"Para {i}. {paragraph}" for i in range(8)) + "\n\nDONE"
    ollama_env.script(Reply(text=text, chunk_chars=40, delay=0.06))  # ~3.6 s: room for several checks on a slow runner
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        terminal = _Terminal(app)
        await ready(pilot)
        await send(pilot, "hello")
        await wait_until(pilot, lambda: "Para 1." in rendered_text(last_reply(app)), what="the reply streaming")
        await pilot.press("alt+up")  # the streaming reply selected: a background and a left border on every row
        assert last_reply(app).has_class("-selected")
        checked = 0
        while "DONE" not in rendered_text(last_reply(app)):
            await pilot.pause(0.15)
            shown, full, bad = await _settled(app, terminal)
            assert shown == full, "stale rows:\n" + "\n".join(difflib.unified_diff(full.splitlines(), shown.splitlines()))
            assert not bad, "stale cells on the terminal:\n" + "\n".join(bad)
            if checked == 2:
                await pilot.press("escape")  # back to the composer mid-stream: the reply is no longer selected
                assert not last_reply(app).has_class("-selected")
            checked += 1
        assert checked >= 3


async def test_the_working_line_draws_each_new_second(ollama_env, make_app):
    # The line's text changes once a second without a layout (its size never changes): the new text must still
    # reach the screen, in the waiting state and in a stall.
    from tui_agents.config import AppConfig, NetworkConfig
    from tui_agents.tui.widgets.working import WorkingLine

    ollama_env.script(Reply(text="first...second DONE", chunk_chars=8, delay=1.6, first_delay=2.2))
    app = make_app(config=AppConfig(network=NetworkConfig(stall_after=0.4)))
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "hello")

        def line() -> str:
            lines = list(app.screen.query(WorkingLine))
            return str(lines[0].render()) if lines else ""

        for pattern in ("waiting for fake-model-small · 2 s", "no data for 1 s"):
            await wait_until(pilot, lambda: line().startswith(pattern), what=pattern)
            shown, full, _ = await _settled(app)
            assert line() in shown, f"{line()!r} is not on the screen"
            assert shown == full, "stale rows:\n" + "\n".join(difflib.unified_diff(full.splitlines(), shown.splitlines()))
        await wait_until(pilot, lambda: "DONE" in rendered_text(last_reply(app)), what="the reply")


async def test_what_reached_the_terminal_equals_a_repaint_from_scratch_while_a_reply_scrolls(ollama_env, make_app):
    # Every frame (layouts and partial repaints) is replayed into a virtual terminal, styles included: the
    # scrollbar's thumb, the working line's seconds and the reply's rows drawn by partial frames must all be
    # what a repaint from scratch draws.
    paragraph = "Word " * 40
    text = "\n\n".join(f"Para {i}. {paragraph}" for i in range(10)) + "\n\nDONE"
    ollama_env.script(Reply(text=text, chunk_chars=30, delay=0.05))
    app = make_app()
    async with app.run_test(size=(100, 24)) as pilot:
        terminal = _Terminal(app)
        await ready(pilot)
        await send(pilot, "hello")
        await wait_until(pilot, lambda: "Para 2." in rendered_text(last_reply(app)), what="the reply scrolling")
        checked = 0
        while "DONE" not in rendered_text(last_reply(app)):
            await pilot.pause(0.2)
            _, _, bad = await _settled(app, terminal)
            assert not bad, "stale cells on the terminal:\n" + "\n".join(bad)
            checked += 1
        assert checked >= 3 and terminal.frames > 10
