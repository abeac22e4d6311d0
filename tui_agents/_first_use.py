"""Classes made at first use: a module's ``__getattr__`` and ``__dir__`` for names another module defines.

``events`` and ``providers.base`` keep their event classes in ``_turn_events`` and ``_stream_events``, made
when a program first asks for one (``ask`` sends its request before any is needed).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection
from typing import Any

__all__ = ["made_at_first_use"]


def made_at_first_use(
    namespace: dict[str, Any], module: str, names: Collection[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for a module whose ``names`` come from ``module`` (relative) at first use.

    ``namespace`` is the module's ``globals()``: the names land there, so later lookups are plain ones. The
    import lock makes each class once, whichever thread asks first.
    """

    def module_getattr(name: str) -> Any:
        if name in names:
            made = importlib.import_module(module, namespace["__package__"])
            namespace.update({later: getattr(made, later) for later in names})
            return namespace[name]
        raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")

    def module_dir() -> list[str]:
        return sorted({*namespace, *names})

    return module_getattr, module_dir
