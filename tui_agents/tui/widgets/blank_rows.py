"""``BlankRows``: a container whose own rows are blank is drawn without Textual's styled render of each row."""

from __future__ import annotations

__all__ = ["BlankRows"]


class BlankRows:
    """Mixin for a container seen only around its children: with no border, outline or padding its rows are blank.

    Textual then draws them as blank rows in the container's style (``Widget.BLANK``) instead of rendering
    each row through its styles cache, which it did again for every row whenever the height changed: at
    every new line of a streaming reply. A widget without children (it draws itself) is never blank.
    """

    @property
    def BLANK(self) -> bool:  # noqa: N802 - Textual's name
        styles = self.styles  # type: ignore[attr-defined]
        return bool(self.children) and not (styles.padding or styles.border or styles.outline)  # type: ignore[attr-defined]
