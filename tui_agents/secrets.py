"""API keys: a masked ``Secret`` type and lookup in the environment and the OS keyring.

A key is looked up in its environment variable first, then in the OS keyring
(service ``aiagents-tui``, user = provider name). Keyring calls block (they may
talk to D-Bus or the macOS keychain): async code uses the ``a*`` wrappers,
which run them in a thread.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
from collections.abc import Iterator, Mapping

from .errors import ConfigError
from .providers import registry

__all__ = [
    "Secret",
    "KeyringUnavailableError",
    "ENV_VARS",
    "KEYRING_SERVICE",
    "env_var_for",
    "get_key",
    "set_key",
    "delete_key",
    "has_key",
    "aget_key",
    "aset_key",
    "adelete_key",
    "ahas_key",
]

log = logging.getLogger(__name__)

KEYRING_SERVICE = "aiagents-tui"


class _KeyEnvVars(Mapping[str, str]):
    """A live ``provider -> key env var`` view of the provider registry (keyed providers only)."""

    def __getitem__(self, name: str) -> str:
        spec = registry.find(name)
        if spec is None or spec.key_env is None:
            raise KeyError(name)
        return spec.key_env

    def __iter__(self) -> Iterator[str]:
        return (spec.name for spec in registry.specs() if spec.key_env is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)


ENV_VARS: Mapping[str, str] = _KeyEnvVars()


class KeyringUnavailableError(ConfigError):
    """This machine has no usable OS keyring; the message names the env var to use instead."""


class Secret:
    """A secret string whose ``str`` and ``repr`` are masked; ``reveal()`` returns the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        self._value = str(value)

    def reveal(self) -> str:
        """The secret value, for the one place that must send it."""
        return self._value

    @property
    def masked(self) -> str:
        """A hint safe to show: the key's last four characters at most."""
        value = self._value
        return f"…{value[-4:]}" if len(value) >= 16 else "****"

    def __repr__(self) -> str:
        return f"Secret('{self.masked}')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return hmac.compare_digest(self._value.encode(), other._value.encode())
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("Secret", self._value))


def env_var_for(provider: str) -> str:
    """The environment variable holding ``provider``'s key (e.g. ``ANTHROPIC_API_KEY``)."""
    return ENV_VARS.get(provider, f"{provider.upper()}_API_KEY")


def _keyring():
    """The usable keyring backend, or ``KeyringUnavailableError``. The import is slow: done lazily."""
    import keyring
    from keyring.backends import chainer, fail, null

    backend = keyring.get_keyring()
    usable = not isinstance(backend, (fail.Keyring, null.Keyring))
    if isinstance(backend, chainer.ChainerBackend):
        usable = bool(backend.backends)
    if not usable:
        raise KeyringUnavailableError("no OS keyring")
    return backend


def _unavailable(provider: str) -> KeyringUnavailableError:
    var = env_var_for(provider)
    return KeyringUnavailableError(
        f"No OS keyring is available on this machine to store the {provider} key; set {var} in your environment instead."
    )


def get_key(provider: str) -> Secret | None:
    """The key for ``provider`` from its env var, else the OS keyring, else None. Blocking."""
    value = os.environ.get(env_var_for(provider), "").strip()
    if value:
        return Secret(value)
    try:
        stored = _keyring().get_password(KEYRING_SERVICE, provider)
    except KeyringUnavailableError:
        return None
    except Exception as exc:  # a locked or broken keyring must not stop the app: the env var still works
        log.warning("could not read the %s key from the OS keyring: %s", provider, type(exc).__name__)
        return None
    return Secret(stored) if stored else None


def set_key(provider: str, key: str | Secret) -> None:
    """Store ``provider``'s key in the OS keyring. Blocking; raises ``KeyringUnavailableError``."""
    value = key.reveal() if isinstance(key, Secret) else str(key)
    if not value.strip():
        raise ConfigError(f"The {provider} key is empty; paste the whole key.")
    try:
        _keyring().set_password(KEYRING_SERVICE, provider, value.strip())
    except KeyringUnavailableError:
        raise _unavailable(provider) from None
    except Exception as exc:
        raise KeyringUnavailableError(
            f"The OS keyring refused to store the {provider} key ({type(exc).__name__}); "
            f"set {env_var_for(provider)} in your environment instead."
        ) from None


def delete_key(provider: str) -> bool:
    """Remove ``provider``'s key from the OS keyring; return whether one was there. Blocking."""
    try:
        backend = _keyring()
    except KeyringUnavailableError:
        raise _unavailable(provider) from None
    try:
        if not backend.get_password(KEYRING_SERVICE, provider):
            return False
        backend.delete_password(KEYRING_SERVICE, provider)
    except Exception as exc:  # e.g. a locked keyring: a typed error, never the backend's own text
        raise KeyringUnavailableError(
            f"The OS keyring refused to delete the {provider} key ({type(exc).__name__})."
        ) from None
    return True


def has_key(provider: str) -> bool:
    """Whether a key for ``provider`` is set in its env var or the OS keyring. Blocking."""
    return get_key(provider) is not None


async def aget_key(provider: str) -> Secret | None:
    """``get_key`` in a thread."""
    return await asyncio.to_thread(get_key, provider)


async def aset_key(provider: str, key: str | Secret) -> None:
    """``set_key`` in a thread."""
    await asyncio.to_thread(set_key, provider, key)


async def adelete_key(provider: str) -> bool:
    """``delete_key`` in a thread."""
    return await asyncio.to_thread(delete_key, provider)


async def ahas_key(provider: str) -> bool:
    """``has_key`` in a thread."""
    return await asyncio.to_thread(has_key, provider)
