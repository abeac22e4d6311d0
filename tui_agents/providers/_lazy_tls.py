"""httpx's own transport, with its TLS context built only once an https URL is asked.

Loading the CA bundle costs ~70-150 ms per client; a plain-http server (Ollama, a
loopback proxy) never needs it. Verification is never weakened: https requests go
through ``httpx.AsyncHTTPTransport`` with httpx's default ``verify``/``trust_env``.
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx

__all__ = ["SchemeTransport"]


def _no_tls_context() -> ssl.SSLContext:
    """A context that trusts no certificate: the plain-http transport never does TLS, and must not by accident."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies hostnames and certificates, with no CA loaded


class SchemeTransport(httpx.AsyncBaseTransport):
    """One ``AsyncHTTPTransport`` per scheme, each made on first use (the https one at once if ``tls_now``)."""

    def __init__(self, *, tls_now: bool = False, **options: Any) -> None:
        self._options = options
        self._plain: httpx.AsyncHTTPTransport | None = None
        self._tls: httpx.AsyncHTTPTransport | None = httpx.AsyncHTTPTransport(**options) if tls_now else None

    def _for(self, scheme: str) -> httpx.AsyncHTTPTransport:
        if scheme == "http":
            if self._plain is None:
                self._plain = httpx.AsyncHTTPTransport(verify=_no_tls_context(), **self._options)
            return self._plain
        if self._tls is None:
            self._tls = httpx.AsyncHTTPTransport(**self._options)
        return self._tls

    @property
    def has_tls(self) -> bool:
        """Whether the https transport (and its TLS context) has been made."""
        return self._tls is not None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._for(request.url.scheme).handle_async_request(request)

    async def aclose(self) -> None:
        for transport in (self._plain, self._tls):
            if transport is not None:
                await transport.aclose()
