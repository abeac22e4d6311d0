"""Theme files: TOML in the top-level ``themes/`` folder and ``<config dir>/themes``.

A theme file holds ``name``, ``dark`` and the colours ``primary``, ``secondary``,
``accent``, ``background``, ``surface``, ``panel``, ``foreground``, ``success``,
``warning``, ``error``, plus an optional ``[variables]`` table of Textual theme
variables. Files are read in directory order, so a user's theme with the same
name replaces a shipped one. A malformed file is skipped with a notice.

The shipped themes live in the repository's ``themes/`` folder; an installed
wheel has no repository, so byte-identical copies ship as package data in
``tui_agents/tui/builtin_themes/`` (a test keeps the two in step).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from textual.color import Color, ColorParseError
from textual.theme import Theme

if TYPE_CHECKING:  # pragma: no cover
    from textual.app import App

__all__ = [
    "COLOUR_KEYS",
    "ThemeLoad",
    "builtin_themes_dir",
    "default_theme_dirs",
    "load_theme_file",
    "load_themes",
    "load_themes_report",
    "register_themes",
    "user_themes_dir",
]

COLOUR_KEYS = (
    "primary", "secondary", "accent", "background", "surface",
    "panel", "foreground", "success", "warning", "error",
)
_KNOWN_KEYS = {"name", "dark", "variables", *COLOUR_KEYS}
# A variable value is substituted into CSS: allow colours and plain style words, never ; { } or newlines.
_SAFE_VARIABLE = re.compile(r"^[A-Za-z0-9 #%.,()-]+$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

_PACKAGE_DIR = Path(__file__).resolve().parent
_REPO_THEMES = _PACKAGE_DIR.parents[1] / "themes"
_BUILTIN_THEMES = _PACKAGE_DIR / "builtin_themes"


class ThemeFileError(ValueError):
    """A theme file could not be used; the message says which file and why."""


@dataclass
class ThemeLoad:
    """The themes found, and one line per file that was skipped."""

    themes: list[Theme] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def builtin_themes_dir() -> Path:
    """The shipped themes: the repository's ``themes/`` folder, else the package-data copy."""
    return _REPO_THEMES if _REPO_THEMES.is_dir() else _BUILTIN_THEMES


def user_themes_dir() -> Path:
    """``<user config dir>/themes`` (the folder that holds ``config.toml`` by default)."""
    from platformdirs import user_config_dir

    from tui_agents.config import APP_NAME

    return Path(user_config_dir(APP_NAME, appauthor=False)) / "themes"


def default_theme_dirs() -> list[Path]:
    """Shipped themes first, then the user's, so the user's win on a name clash."""
    return [builtin_themes_dir(), user_themes_dir()]


def _check_colour(path: Path, key: str, value: object) -> str:
    if not isinstance(value, str):
        raise ThemeFileError(f"{path.name}: {key} must be a colour string.")
    try:
        Color.parse(value)
    except ColorParseError as exc:
        raise ThemeFileError(f"{path.name}: {key} = {value!r} is not a colour.") from exc
    return value


def _check_variables(path: Path, raw: object) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ThemeFileError(f"{path.name}: [variables] must be a table.")
    out: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(value, str) or not _SAFE_NAME.match(key) or not _SAFE_VARIABLE.match(value):
            raise ThemeFileError(f"{path.name}: variable {key!r} has an unusable value.")
        out[key] = value
    return out


def load_theme_file(path: Path, check: bool = True) -> Theme:
    """Read one theme file; raises ``ThemeFileError`` saying what is wrong.

    ``check=False`` skips building its colour system (for the shipped files, which a test builds).
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ThemeFileError(f"{path.name}: not a readable TOML file ({exc}).") from exc
    name = data.get("name")
    if not isinstance(name, str) or not _SAFE_NAME.match(name):
        raise ThemeFileError(f"{path.name}: needs a name of letters, digits, '-', '_' or '.'.")
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        raise ThemeFileError(f"{path.name}: dark must be true or false.")
    if "primary" not in data:
        raise ThemeFileError(f"{path.name}: needs at least a primary colour.")
    unknown = sorted(set(data) - _KNOWN_KEYS)
    if unknown:
        raise ThemeFileError(f"{path.name}: unknown keys {', '.join(unknown)}.")
    colours = {key: _check_colour(path, key, data[key]) for key in COLOUR_KEYS if key in data}
    theme = Theme(name=name, dark=dark, variables=_check_variables(path, data.get("variables")), **colours)
    if not check:
        return theme
    try:  # the colour system is what Textual builds on switch: fail here, not in the running app
        theme.to_color_system().generate()
    except Exception as exc:  # noqa: BLE001 - any failure means the theme is unusable
        raise ThemeFileError(f"{path.name}: Textual cannot build this theme ({exc}).") from exc
    return theme


def load_themes_report(dirs: Iterable[Path]) -> ThemeLoad:
    """Load every ``*.toml`` in ``dirs`` (missing dirs are fine); later files replace earlier names."""
    by_name: dict[str, Theme] = {}
    load = ThemeLoad()
    for folder in dirs:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                theme = load_theme_file(path)
            except ThemeFileError as exc:
                load.problems.append(f"Theme skipped: {exc}")
                continue
            by_name[theme.name] = theme
    load.themes = list(by_name.values())
    return load


def load_themes(dirs: Iterable[Path]) -> list[Theme]:
    """The usable themes in ``dirs``; malformed files are skipped."""
    return load_themes_report(dirs).themes


def register_themes(app: App, dirs: Iterable[Path] | None = None) -> ThemeLoad:
    """Register the themes of ``dirs`` (default: shipped + user) on ``app``; notify about skipped files."""
    load = load_themes_report(default_theme_dirs() if dirs is None else dirs)
    for theme in load.themes:
        app.register_theme(theme)
    for problem in load.problems:
        app.notify(problem, title="Themes", severity="warning", markup=False)
    return load
