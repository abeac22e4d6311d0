"""The default theme, made without reading its file, for the first frame (``startup.first_theme``).

``themes/aiagents-dark.toml`` is the theme's source, the file users copy and the theme picker loads; reading it
before the first frame would import ``tomllib`` and the theme loader (~4 ms of a ~300 ms start). A test keeps
this the same as the file.
"""

from __future__ import annotations

from textual.theme import Theme

__all__ = ["default_theme"]


def default_theme() -> Theme:
    """``aiagents-dark``, as its file says."""
    return Theme(
        name="aiagents-dark",
        dark=True,
        primary="#5AA9E6",
        secondary="#7F8CD9",
        accent="#F2A65A",
        background="#14161B",
        surface="#1C1F26",
        panel="#252A33",
        foreground="#E3E6EB",
        success="#6BC58B",
        warning="#E8B64C",
        error="#E5646E",
        variables={"block-cursor-text-style": "bold", "footer-key-foreground": "#5AA9E6"},
    )
