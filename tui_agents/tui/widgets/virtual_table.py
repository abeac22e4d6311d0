"""A table that renders only its visible rows, shared by the inspector, the memory panel and the documents screen."""

from __future__ import annotations

from collections.abc import Iterable

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ...sanitize import sanitize

__all__ = ["Cells", "Column", "VirtualTable"]


Cells = tuple["Text | str", ...]
Column = tuple[str, "int | None"] | tuple[str, "int | None", str]


class VirtualTable(ScrollView, can_focus=True):
    """A table that renders only its visible rows (the Line API): O(1) to fill, O(height) to paint.

    ``DataTable`` measures every cell of every new row, which costs hundreds of
    milliseconds for a few thousand rows; here columns have fixed widths (one
    may be ``None``: it takes the rest; a third item ``"right"`` aligns it), rows
    are one line each, and cells are ``Text`` or plain ``str`` (never parsed as
    markup). The header stays on the first line.
    """

    COMPONENT_CLASSES = {"virtual-table--header", "virtual-table--cursor", "virtual-table--even"}
    DEFAULT_CSS = """
    VirtualTable { height: 1fr; background: $surface; color: $foreground; }
    VirtualTable > .virtual-table--header { text-style: bold; background: $panel; color: $foreground; }
    VirtualTable > .virtual-table--even { background: $surface-lighten-1 50%; }
    VirtualTable:dark > .virtual-table--even { background: $surface-darken-1 40%; }
    VirtualTable > .virtual-table--cursor {
        background: $block-cursor-blurred-background; color: $block-cursor-blurred-foreground;
        text-style: $block-cursor-blurred-text-style;
    }
    VirtualTable:focus > .virtual-table--cursor {
        background: $block-cursor-background; color: $block-cursor-foreground; text-style: $block-cursor-text-style;
    }
    """
    BINDINGS = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "edge(0)", "First", show=False),
        Binding("end", "edge(1)", "Last", show=False),
        Binding("enter", "select", "Select", show=False),
    ]

    cursor: reactive[int] = reactive(0, always_update=True, init=False)

    class Highlighted(Message):
        """The cursor moved to the row ``key``."""

        def __init__(self, table: "VirtualTable", key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> "VirtualTable":
            return self.table

    class Selected(Highlighted):
        """The user pressed enter (or clicked twice) on the row ``key``."""

    def __init__(self, columns: list[Column], *, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.columns = [(c[0], c[1], c[2] if len(c) > 2 else "left") for c in columns]
        self.keys: list[str] = []
        self._cells: dict[str, Cells] = {}
        self._index: dict[str, int] = {}

    # ---- data

    @property
    def row_count(self) -> int:
        """How many rows the table holds."""
        return len(self.keys)

    def row(self, key: str) -> Cells:
        """The cells of row ``key``."""
        return self._cells[key]

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor."""
        return self.keys[self.cursor] if 0 <= self.cursor < len(self.keys) else None

    def set_rows(self, rows: Iterable[tuple[str, Cells]]) -> None:
        """Replace all rows; the cursor stays on the same key when it is still there."""
        keep = self.cursor_key
        self._cells = dict(rows)
        self.keys = list(self._cells)
        self._index = {key: i for i, key in enumerate(self.keys)}
        self._resize()
        self.cursor = self._index.get(keep, 0) if keep is not None else 0

    def put_row(self, key: str, cells: Cells) -> None:
        """Update row ``key`` in place, or append it."""
        if key not in self._index:
            self._index[key] = len(self.keys)
            self.keys.append(key)
            self._resize()
        self._cells[key] = cells
        self.refresh()
        if self._index[key] == self.cursor:
            self.post_message(self.Highlighted(self, key))

    def move_to(self, key: str) -> None:
        """Put the cursor on row ``key``."""
        if key in self._index:
            self.cursor = self._index[key]

    def _resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.keys) + 1)
        self.refresh()

    # ---- cursor

    def watch_cursor(self, cursor: int) -> None:
        if self.keys:
            clamped = max(0, min(cursor, len(self.keys) - 1))
            if clamped != cursor:
                self.cursor = clamped
                return
        self._scroll_to_cursor()
        self.refresh()
        self.post_message(self.Highlighted(self, self.cursor_key))

    def _scroll_to_cursor(self) -> None:
        visible = max(1, self.size.height - 1)
        top = int(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + visible:
            self.scroll_to(y=self.cursor - visible + 1, animate=False, immediate=True)

    def action_move(self, step: int) -> None:
        """Move the cursor ``step`` rows."""
        if self.keys:
            self.cursor = max(0, min(len(self.keys) - 1, self.cursor + step))

    def action_page(self, direction: int) -> None:
        """Move the cursor a page."""
        self.action_move(direction * max(1, self.size.height - 2))

    def action_edge(self, end: int) -> None:
        """Move the cursor to the first or last row."""
        if self.keys:
            self.cursor = len(self.keys) - 1 if end else 0

    def action_select(self) -> None:
        """Announce the row under the cursor as chosen."""
        if self.cursor_key is not None:
            self.post_message(self.Selected(self, self.cursor_key))

    def on_click(self, event: events.Click) -> None:
        row = event.y - 1 + int(self.scroll_offset.y)
        if event.y >= 1 and 0 <= row < len(self.keys):
            self.cursor = row
            if event.chain >= 2:
                self.action_select()

    def on_resize(self) -> None:
        self._resize()

    # ---- rendering

    def _widths(self, width: int) -> list[int]:
        fixed = sum(w for _, w, _ in self.columns if w is not None) + len(self.columns)
        return [w if w is not None else max(4, width - fixed) for _, w, _ in self.columns]

    def _line(self, cells: Iterable[Text | str], width: int, style: Style) -> Strip:
        segments: list[Segment] = []
        for cell, cell_width, (_, _, justify) in zip(cells, self._widths(width), self.columns):
            text = Text(sanitize(cell), end="") if isinstance(cell, str) else cell.copy()
            text.no_wrap = True
            text.end = ""
            text.truncate(cell_width, overflow="ellipsis")
            text.align(justify if justify in ("center", "right") else "left", cell_width)
            segments.append(Segment(" "))
            segments.extend(text.render(self.app.console))
        strip = Strip(segments).adjust_cell_length(width)
        return strip.apply_style(style) if style else strip

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if y == 0:
            header = self.get_component_rich_style("virtual-table--header")
            return self._line((name for name, _, _ in self.columns), width, base + header)
        index = int(self.scroll_offset.y) + y - 1
        if index >= len(self.keys):
            return Strip.blank(width, base)
        style = base
        if index % 2 == 0:
            style += self.get_component_rich_style("virtual-table--even")
        if index == self.cursor:
            style += self.get_component_rich_style("virtual-table--cursor")
        # Row styles go under the cells' own (status colours stay visible).
        return self._line(self._cells[self.keys[index]], width, Style()).apply_style(style)
