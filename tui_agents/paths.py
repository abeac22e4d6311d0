"""Where aiagents-tui keeps its files: the settings file, the themes folder, the data dir and the database.

Apart from ``config.py`` (which re-exports these) so that the app can find its database and log file
before the settings are read: ``config`` loads pydantic, about 0.1 s the first screen should not wait for.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["APP_NAME", "config_path", "data_dir", "default_db_path", "resolve_db_path", "user_themes_dir"]

APP_NAME = "aiagents-tui"


def _platformdirs():
    import platformdirs

    return platformdirs


def config_path() -> Path:
    """The settings file: ``AIAGENTS_CONFIG``, else ``config.toml`` in the user config dir."""
    env = os.environ.get("AIAGENTS_CONFIG")
    if env:
        return Path(env).expanduser()
    return Path(_platformdirs().user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


def user_themes_dir() -> Path:
    """The folder for the user's own theme files: ``themes`` in the user config dir."""
    return Path(_platformdirs().user_config_dir(APP_NAME, appauthor=False)) / "themes"


def data_dir() -> Path:
    """The user data dir of the app (holds the default database)."""
    return Path(_platformdirs().user_data_dir(APP_NAME, appauthor=False))


def default_db_path() -> Path:
    """The database used when neither ``--db`` nor ``AIAGENTS_DB`` is given."""
    return data_dir() / "aiagents.db"


def resolve_db_path(flag: str | os.PathLike[str] | None = None) -> Path:
    """The database path: the ``--db`` flag, else ``AIAGENTS_DB``, else the default."""
    if flag:
        return Path(flag).expanduser()
    env = os.environ.get("AIAGENTS_DB")
    if env:
        return Path(env).expanduser()
    return default_db_path()
