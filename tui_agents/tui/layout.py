"""The chat screen's layout on narrow terminals: the sidebar collapses and side panels open over the chat.

Below ``NARROW_BELOW`` columns the screen gets ``-narrow``: the sidebar is
hidden and ctrl+b shows it as an overlay (``-overlay``) until escape, a chosen
thread or focus elsewhere hides it. Whenever a panel beside the chat would
leave the composer fewer than ``MIN_COMPOSER`` columns, the screen gets
``-panel-over`` and the panel opens over the chat instead, above the
composer, which keeps the full width.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from textual.widget import Widget

    from .screens.main import MainScreen

__all__ = ["MIN_COMPOSER", "NARROW_BELOW", "NarrowLayout"]

NARROW_BELOW = 100
"""Below this many columns the sidebar collapses by itself."""

MIN_COMPOSER = 40
"""The composer is never narrower than this."""


def _cells(widget: Widget, default: int) -> int:
    """A widget's fixed CSS width in cells (``default`` if it has none)."""
    width = widget.styles.width
    return int(width.value) if width is not None and width.is_cells else default


class NarrowLayout:
    """Switches the chat screen between the normal and the narrow layout as the terminal resizes."""

    def __init__(self, screen: MainScreen) -> None:
        self.screen = screen
        self.width = 0

    @property
    def narrow(self) -> bool:
        return self.screen.has_class("-narrow")

    @property
    def overlay_open(self) -> bool:
        """Whether the sidebar is shown over the chat."""
        return self.narrow and self.screen.app.sidebar.has_class("-overlay")

    def start(self, width: int) -> None:
        """The layout of the first frame, set before the screen's widgets get their styles.

        Textual handles the screen's first resize only after the first frame; had the classes changed
        then, every widget would be styled again and laid out once more before the thread list shows.
        """
        self.width = width
        narrow = width < NARROW_BELOW
        self.screen.set_class(narrow, "-narrow", update=False)
        self.screen.set_class(self._panel_over(0 if narrow else 34, 48), "-panel-over", update=False)

    def _panel_over(self, beside: int, panel: int) -> bool:
        return self.width - beside - panel < MIN_COMPOSER

    def resized(self, width: int) -> None:
        """Apply the layout that fits ``width`` columns."""
        self.width = width
        narrow = width < NARROW_BELOW
        self.screen.set_class(narrow, "-narrow")
        if not narrow:
            self.screen.app.sidebar.remove_class("-overlay")
        self.fit_panel()

    def fit_panel(self) -> None:
        """Open panels over the chat when beside it they would leave the composer under MIN_COMPOSER columns."""
        sidebar = self.screen.app.sidebar
        beside = 0 if self.narrow or sidebar.has_class("-hidden") else _cells(sidebar, 34)
        panel = _cells(self.screen.panel_slot(), 48)
        self.screen.set_class(self._panel_over(beside, panel), "-panel-over")
        self.screen.call_after_refresh(self.clear_composer)

    def clear_composer(self) -> None:
        """Keep a panel over the chat above the composer (whose height grows with its text)."""
        slot = self.screen.panel_slot()
        over = self.screen.has_class("-panel-over")
        below = self.screen.app.composer.outer_size.height if over else 0
        margin = (1, 0, 1 + below, 0) if over else (0, 0, 0, 0)  # over the chat: under the title bar, over the status bar
        if tuple(slot.styles.margin) != margin:
            slot.styles.margin = margin

    def toggle_sidebar(self) -> bool:
        """In the narrow layout, show or hide the sidebar overlay; False: not narrow, toggle as usual."""
        if not self.narrow:
            return False
        if self.overlay_open:
            self.hide_overlay()
        else:
            self.screen.app.sidebar.add_class("-overlay")
            self.screen.app.sidebar.tree.focus()
        return True

    def reveal(self) -> None:
        """In the narrow layout, show the sidebar overlay (e.g. for the search box); else nothing."""
        if self.narrow:
            self.screen.app.sidebar.add_class("-overlay")

    def hide_overlay(self, focus_composer: bool = True) -> None:
        """Hide the sidebar overlay (typing goes to the composer again)."""
        if not self.screen.app.sidebar.has_class("-overlay"):
            return
        self.screen.app.sidebar.remove_class("-overlay")
        if focus_composer:
            self.screen.app.composer.focus()

    def focus_moved(self, widget: Widget) -> None:
        """Focus left the sidebar overlay (to the chat, the composer, a panel): hide it."""
        if self.overlay_open and self.screen.app.sidebar not in widget.ancestors_with_self:
            self.hide_overlay(focus_composer=False)
