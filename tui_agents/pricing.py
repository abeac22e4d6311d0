"""What replies cost: a price table per model, in US dollars per million tokens.

The shipped prices are the providers' published list prices for standard
(non-batch, uncached) input and output tokens, as of ``PRICES_AS_OF``; prices
change, so ``[prices."MODEL"]`` in the config overrides or adds a model. Local
models (Ollama, or any provider whose base URL is a loopback address such as a
llama.cpp, vLLM or LM Studio server on 127.0.0.1) cost 0. A model that is in neither table has an unknown price:
``cost`` returns None and the app says "unknown", never a guess.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["PRICES_AS_OF", "DEFAULT_PRICES", "Price", "PriceTable", "format_cost"]

PRICES_AS_OF = "2025-11-30"
"""When the shipped prices were taken from the providers' pricing pages."""

"""Providers whose models run on the user's machine: they cost nothing per token."""


@dataclass(frozen=True, slots=True)
class Price:
    """US dollars per million input and output tokens."""

    input: float
    output: float

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """The cost of that many tokens, in US dollars."""
        return (input_tokens * self.input + output_tokens * self.output) / 1_000_000


DEFAULT_PRICES: dict[str, Price] = {
    # Anthropic (anthropic.com/pricing)
    "claude-opus-4-5": Price(5.0, 25.0),
    "claude-opus-4-1": Price(15.0, 75.0),
    "claude-opus-4": Price(15.0, 75.0),
    "claude-opus-4-0": Price(15.0, 75.0),
    "claude-sonnet-4-5": Price(3.0, 15.0),
    "claude-sonnet-4": Price(3.0, 15.0),
    "claude-sonnet-4-0": Price(3.0, 15.0),
    "claude-3-7-sonnet": Price(3.0, 15.0),
    "claude-3-5-sonnet": Price(3.0, 15.0),
    "claude-haiku-4-5": Price(1.0, 5.0),
    "claude-3-5-haiku": Price(0.8, 4.0),
    "claude-3-haiku": Price(0.25, 1.25),
    "claude-3-opus": Price(15.0, 75.0),
    # OpenAI (openai.com/api/pricing)
    "gpt-5": Price(1.25, 10.0),
    "gpt-5-mini": Price(0.25, 2.0),
    "gpt-5-nano": Price(0.05, 0.40),
    "gpt-4.1": Price(2.0, 8.0),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "gpt-4o": Price(2.50, 10.0),
    "gpt-4o-mini": Price(0.15, 0.60),
    "o3": Price(2.0, 8.0),
    "o3-mini": Price(1.10, 4.40),
    "o4-mini": Price(1.10, 4.40),
    "o1": Price(15.0, 60.0),
    "gpt-4-turbo": Price(10.0, 30.0),
    "gpt-3.5-turbo": Price(0.50, 1.50),
}
"""Shipped list prices (USD per million tokens), taken on ``PRICES_AS_OF``."""

# A dated or "latest" snapshot of a listed model has the model's price: claude-3-5-haiku-20241022, gpt-4o-2024-08-06.
_SNAPSHOT = re.compile(r"-(?:\d{8}|\d{4}-\d{2}-\d{2}|latest)$")


class PriceTable:
    """Prices by model: the shipped table with the user's overrides on top."""

    def __init__(self, overrides: Mapping[str, Any] | None = None, *, defaults: Mapping[str, Price] = DEFAULT_PRICES,
                 local_providers: frozenset[str] = frozenset()):
        self.prices: dict[str, Price] = dict(defaults)
        self.local_providers = local_providers  # providers served from this machine (a loopback base URL)
        for model, price in (overrides or {}).items():
            self.prices[model] = price if isinstance(price, Price) else Price(float(price.input), float(price.output))
        self.user_priced = frozenset(overrides or ())

    @classmethod
    def from_config(cls, config: Any) -> "PriceTable":
        """The shipped prices with the config's ``[prices."MODEL"]`` tables on top; loopback servers cost 0."""
        return cls(getattr(config, "prices", None) or {}, local_providers=loopback_providers(config))

    def price(self, provider: str | None, model: str | None) -> Price | None:
        """The model's price; 0 for local providers; None when unknown."""
        if provider in self.local_providers and model in self.user_priced:
            return self.prices[model]  # the user priced what their local server runs (e.g. a paid proxy)
        if provider in self.local_providers or _is_local(provider):
            return Price(0.0, 0.0)
        if not model:
            return None
        found = self.prices.get(model)
        if found is None:
            found = self.prices.get(_SNAPSHOT.sub("", model))
        return found

    def cost(self, provider: str | None, model: str | None, input_tokens: int, output_tokens: int) -> float | None:
        """The cost in US dollars, or None when the model's price is unknown."""
        price = self.price(provider, model)
        return None if price is None else price.cost(input_tokens, output_tokens)


def format_cost(cost: float | None) -> str:
    """``$1.23``, ``$0.0042`` for small sums, or ``unknown``."""
    if cost is None:
        return "unknown"
    if cost == 0:
        return "$0.00"
    return f"${cost:,.4f}" if cost < 1 else f"${cost:,.2f}"


def is_loopback_url(url: str | None) -> bool:
    """Whether ``url`` names this machine (localhost, 127.0.0.0/8, ::1)."""
    from urllib.parse import urlsplit

    if not url:
        return False
    try:
        host = urlsplit(url if "//" in url else f"http://{url}").hostname or ""
    except ValueError:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def loopback_providers(config: Any = None) -> frozenset[str]:
    """Providers whose base URL (the config's, else its env var) is a loopback address."""
    from .providers import registry

    found = set()
    providers = getattr(config, "providers", None)
    for name in registry.names():
        spec = registry.find(name)
        if spec is None or spec.local:
            continue
        url = providers.get(name).base_url if providers is not None else None
        if not url and spec.base_url_env:
            url = os.environ.get(spec.base_url_env)
        if is_loopback_url(url):
            found.add(name)
    return frozenset(found)


def _is_local(provider: str | None) -> bool:
    """Whether the registry marks ``provider`` as a local server (its replies cost nothing)."""
    from .providers import registry

    spec = registry.find(provider)
    return spec is not None and spec.local
