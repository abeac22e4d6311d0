"""Full garbage collections while the app is idle, not in the middle of a thread switch or a reply.

A full collection walks every widget of the session (100-300k objects after an hour: 0.1-0.7 s on
the 2-core machine); run by Python whenever its counters say so, it lands inside a thread switch.
Here the automatic full collections become rare, and one runs once the user has left the keys
alone for a moment, no reply is streaming, and enough has been allocated since the last.
"""

from __future__ import annotations

import gc
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .app import AiAgentsApp

IDLE_SECONDS = 1.5
"""How long without a key (and without a streaming reply) before a due full collection runs."""

DUE_AFTER = 5
"""Collections of the middle generation since the last full one that make a full one due."""

AUTOMATIC_FULL = 100
"""Python's own full collections still run after this many middle ones (default 10): a safety net."""


class IdleCollector:
    """Runs a due full collection after ``IDLE_SECONDS`` without a key or a stream; checks once a second."""

    def __init__(self, app: AiAgentsApp) -> None:
        self.app = app
        self._last_key = time.monotonic()

    def start(self) -> None:
        """Make Python's automatic full collections rare and check for idle moments from now on."""
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, AUTOMATIC_FULL)
        self.app.set_interval(1.0, self._tick, name="idle-gc")

    def key(self) -> None:
        """A key was pressed: the user is busy."""
        self._last_key = time.monotonic()

    def _tick(self) -> None:
        if gc.get_count()[2] < DUE_AFTER or time.monotonic() - self._last_key < IDLE_SECONDS:
            return
        if self.app.background.streaming():
            return
        gc.collect()
