"""Ollama model management: list, inspect, pull (with progress) and delete the models of a local server.

    models = OllamaModels()                     # OLLAMA_HOST or localhost:11434
    for model in await models.list(): ...       # /api/tags: size, parameters, quantization, family
    details = await models.show("gemma3")       # /api/show: context length, capabilities
    async for step in models.pull("qwen3:4b"):  # /api/pull progress; stop iterating to cancel
        print(step.status, step.fraction)
    await models.delete("qwen3:4b")             # /api/delete

Every failure is a typed ``ProviderError`` with one plain sentence: no such
model, disk full, Ollama not running or gone mid-pull.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from ..errors import CapabilityError, ModelNotFoundError, ProviderConnectionError, ProviderError
from ._errors import error_from_response, error_from_transport
from .decoding import NDJSONDecoder, loads
from .ollama import OllamaProvider, _context_length

__all__ = ["OllamaModels", "OllamaModel", "ModelDetails", "LoadedModel", "PullProgress", "DiskFullError"]

PULL_TIMEOUT = httpx.Timeout(900.0, connect=10.0)
"""Verifying a large download's digest can keep the stream silent for minutes."""


class DiskFullError(ProviderError):
    """The Ollama server ran out of disk space (e.g. while pulling a model)."""


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00")
    if "." in text:  # Go writes nanoseconds; Python takes at most microseconds
        head, _, rest = text.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        zone = rest[len(digits):]
        text = f"{head}.{digits[:6]}{zone}"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class OllamaModel:
    """An installed model as ``/api/tags`` lists it."""

    name: str
    size: int
    parameter_size: str | None
    quantization: str | None
    family: str | None
    modified_at: datetime | None
    digest: str = ""

    @classmethod
    def from_tag(cls, entry: dict[str, Any]) -> "OllamaModel":
        details = entry.get("details") or {}
        return cls(name=entry.get("name") or entry.get("model") or "", size=int(entry.get("size") or 0),
                   parameter_size=details.get("parameter_size") or None,
                   quantization=details.get("quantization_level") or None, family=details.get("family") or None,
                   modified_at=_time(entry.get("modified_at")), digest=entry.get("digest") or "")


@dataclass(frozen=True, slots=True)
class ModelDetails:
    """What ``/api/show`` says of a model: its context length and capabilities ("vision", "tools", "thinking"...)."""

    name: str
    context_length: int | None
    capabilities: frozenset[str]
    family: str | None
    parameter_size: str | None
    quantization: str | None

    @property
    def vision(self) -> bool:
        """Whether the model can see images."""
        return "vision" in self.capabilities

    @property
    def tools(self) -> bool:
        """Whether the model can call tools."""
        return "tools" in self.capabilities

    @property
    def thinking(self) -> bool:
        """Whether the model can think before it answers."""
        return "thinking" in self.capabilities


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """A model loaded in memory now (``/api/ps``)."""

    name: str
    size: int
    size_vram: int
    context_length: int | None
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class PullProgress:
    """One line of a pull: ``status`` ("pulling manifest", "pulling <digest>", "verifying sha256 digest",
    "writing manifest", "success"), with ``total``/``completed`` bytes while a layer downloads."""

    status: str
    digest: str | None = None
    total: int | None = None
    completed: int | None = None

    @property
    def fraction(self) -> float | None:
        """How much of the current layer is down (0..1), when known."""
        if self.total:
            return min(1.0, (self.completed or 0) / self.total)
        return None

    @property
    def done(self) -> bool:
        """The pull finished and the model is installed."""
        return self.status == "success"


class OllamaModels:
    """Model management for one Ollama server; reuses an ``OllamaProvider``'s client, or opens its own."""

    def __init__(self, provider: OllamaProvider | None = None, *, base_url: str | None = None,
                 timeout: float | None = None) -> None:
        self._owns = provider is None
        self.provider = provider or OllamaProvider(base_url=base_url, timeout=timeout, max_retries=0)

    @property
    def base_url(self) -> str:
        """The server's base URL."""
        return self.provider.base_url

    async def list(self) -> list[OllamaModel]:
        """The installed models, newest first."""
        tags = await self.provider._request_json("GET", "/api/tags")
        models = [OllamaModel.from_tag(m) for m in tags.get("models") or () if isinstance(m, dict)]
        return sorted(models, key=lambda m: m.modified_at.timestamp() if m.modified_at else 0.0, reverse=True)

    async def show(self, name: str) -> ModelDetails:
        """Details of one model; ``ModelNotFoundError`` when it is not installed."""
        info = await self._show(name)
        details = info.get("details") or {}
        caps = info.get("capabilities")
        return ModelDetails(name=name, context_length=_context_length(info),
                            capabilities=frozenset(caps) if isinstance(caps, list) else frozenset(),
                            family=details.get("family") or None, parameter_size=details.get("parameter_size") or None,
                            quantization=details.get("quantization_level") or None)

    async def _show(self, name: str) -> dict[str, Any]:
        try:
            return await self.provider.show(name)
        except ModelNotFoundError:
            raise self._not_installed(name) from None

    async def capabilities(self, name: str) -> frozenset[str]:
        """What the model can do: "completion", "vision", "tools", "thinking", "embedding"..."""
        return (await self.show(name)).capabilities

    async def require(self, name: str, *, vision: bool = False, tools: bool = False, thinking: bool = False) -> None:
        """``CapabilityError`` unless the model has each capability asked for (checked before a request)."""
        caps = await self.capabilities(name)
        for wanted, cap, what in ((vision, "vision", "see images"), (tools, "tools", "call tools"),
                                  (thinking, "thinking", "think")):
            if wanted and cap not in caps:
                raise CapabilityError(f"The model {name} cannot {what}; choose another model.")

    async def loaded(self) -> list[LoadedModel]:
        """The models loaded in memory right now."""
        ps = await self.provider._request_json("GET", "/api/ps")
        out = []
        for m in ps.get("models") or ():
            ctx = m.get("context_length")
            out.append(LoadedModel(name=m.get("name") or m.get("model") or "", size=int(m.get("size") or 0),
                                   size_vram=int(m.get("size_vram") or 0),
                                   context_length=ctx if isinstance(ctx, int) else None,
                                   expires_at=_time(m.get("expires_at"))))
        return out

    async def delete(self, name: str) -> None:
        """Delete an installed model; ``ModelNotFoundError`` when there is none by that name."""
        try:  # not _request_json: a successful delete has an empty body, not JSON
            response = await self.provider._client.request("DELETE", self.base_url + "/api/delete",
                                                           json={"model": name})
        except httpx.HTTPError as exc:
            raise error_from_transport("Ollama", self.base_url, exc) from exc
        if response.status_code == 404:
            raise self._not_installed(name)
        if response.status_code >= 400:
            raise error_from_response("Ollama", response.status_code, response.headers, response.content, None)
        self.provider.forget(name)

    async def pull(self, name: str) -> AsyncIterator[PullProgress]:
        """Download a model, yielding its progress; stop iterating (or cancel the task) to cancel the pull."""
        url = self.base_url + "/api/pull"
        lines = NDJSONDecoder()
        got_any = False
        try:
            async with self.provider._client.stream("POST", url, json={"model": name, "stream": True},
                                                    timeout=PULL_TIMEOUT) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise self._pull_error(name, error_from_response(
                        "Ollama", response.status_code, response.headers, response.content, None).message)
                async for chunk in response.aiter_bytes():
                    for line in lines.feed_lines(chunk):
                        got_any = True
                        step = self._step(name, line)
                        yield step
                        if step.done:
                            self.provider.forget(name)
                            return
                for line in lines.close_lines():
                    step = self._step(name, line)
                    yield step
                    if step.done:
                        self.provider.forget(name)
                        return
        except httpx.HTTPError as exc:
            if got_any:
                raise ProviderConnectionError(
                    f"Ollama stopped answering while pulling {name} (did it quit?); start it and pull again.",
                    provider="ollama") from exc
            raise error_from_transport("Ollama", self.base_url, exc) from exc
        raise ProviderConnectionError(f"The pull of {name} ended before it was complete; pull it again.",
                                      provider="ollama")

    def _step(self, name: str, line: bytes) -> PullProgress:
        try:
            obj = loads(line)
        except ValueError as exc:
            raise ProviderError("Ollama sent a pull progress line that is not JSON.", provider="ollama") from exc
        if obj.get("error"):
            raise self._pull_error(name, str(obj["error"]))
        total, completed = obj.get("total"), obj.get("completed")
        return PullProgress(status=str(obj.get("status") or ""), digest=obj.get("digest") or None,
                            total=total if isinstance(total, int) else None,
                            completed=completed if isinstance(completed, int) else None)

    @staticmethod
    def _pull_error(name: str, message: str) -> ProviderError:
        text = message.lower()
        if "no space left" in text or "disk full" in text:
            return DiskFullError(f"Ollama ran out of disk space while pulling {name}; free some space and pull "
                                 "again.", provider="ollama", error_type="disk_full")
        if "file does not exist" in text or "manifest unknown" in text or "not found" in text:
            return ModelNotFoundError(f"Ollama has no model called {name}; check the name at ollama.com/library.",
                                      provider="ollama", error_type="not_found")
        return ProviderError(f"Ollama could not pull {name}: {message}", provider="ollama")

    @staticmethod
    def _not_installed(name: str) -> ModelNotFoundError:
        return ModelNotFoundError(f"There is no model called {name} in Ollama; `aiagents-tui models list` shows "
                                  "the installed ones.", provider="ollama", error_type="not_found")

    async def aclose(self) -> None:
        """Close the client when this object opened it."""
        if self._owns:
            await self.provider.aclose()

    async def __aenter__(self) -> "OllamaModels":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
