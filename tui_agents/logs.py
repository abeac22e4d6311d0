"""Where the app writes its warnings and errors: a rotating file under the user log dir.

Warnings and errors only (so no message text, which the engine never logs above
DEBUG), and any API key found in the environment is masked before a line is
written. ``aiagents-tui paths`` prints the file; attach it to a bug report.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

__all__ = ["LOG_FILE", "log_path", "setup_logging"]

LOG_FILE = "aiagents-tui.log"
_MAX_BYTES = 1_000_000
_BACKUPS = 3


def log_path() -> Path:
    """The log file: ``AIAGENTS_LOG`` if set, else ``aiagents-tui.log`` in the user log dir."""
    env = os.environ.get("AIAGENTS_LOG")
    if env:
        return Path(env).expanduser()
    import platformdirs

    from .paths import APP_NAME  # not from config, which loads pydantic (~0.1 s before the first frame)

    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)) / LOG_FILE


class _MaskKeys(logging.Filter):
    """Masks the value of every provider key env var that is set, wherever it appears in a line."""

    def filter(self, record: logging.LogRecord) -> bool:
        from .providers import registry

        secrets = [v for spec in registry.specs() if spec.key_env and len(v := os.environ.get(spec.key_env, "")) >= 8]
        if secrets:
            text = record.getMessage()
            if any(s in text for s in secrets):
                for value in secrets:
                    text = text.replace(value, "****")
                record.msg, record.args = text, None
        return True


def setup_logging(path: Path | None = None, level: int = logging.WARNING) -> Path | None:
    """Send the package's warnings and errors to the rotating log file (never to the screen); returns its path.

    A file that cannot be created (read-only home) leaves logging off rather than stopping the app.
    """
    logger = logging.getLogger("tui_agents")
    logger.propagate = False  # nothing reaches stderr, which the app's screen owns
    path = path or log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=_MAX_BYTES, backupCount=_BACKUPS,
                                                       encoding="utf-8", delay=True)
    except OSError:
        logger.addHandler(logging.NullHandler())
        return None
    handler.setLevel(level)
    handler.addFilter(_MaskKeys())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    return path
