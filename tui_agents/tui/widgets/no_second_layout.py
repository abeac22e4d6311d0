"""``NoSecondLayout``, the chat's widgets' mixin, in a module of its own.

The chat pane is in the first frame; ``widgets/message.py`` (its message views) loads after it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["NoSecondLayout"]


class NoSecondLayout:
    """Mixin for the chat's widgets: a new size after a layout needs no second layout.

    After each layout Textual sets the reactive ``virtual_size`` of every widget
    whose size changed, and that asks for one more layout. For the message
    widgets (height auto) and the chat pane (its scrollbars are updated with
    the size) the second pass changes nothing, yet it repaints the whole chat
    pane once more: measured, it doubled the cost of every new line of a
    streaming reply.
    """

    def _size_updated(self, size: Any, virtual_size: Any, container_size: Any, layout: bool = True) -> bool:
        return super()._size_updated(size, virtual_size, container_size, layout=False)  # type: ignore[misc]
