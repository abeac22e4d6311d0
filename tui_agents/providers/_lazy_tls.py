"""httpx's own transport, with its TLS context built only once an https URL is asked.

Loading the CA bundle costs ~25-30 ms of CPU on a fast machine (~70-150 ms on a loaded one) per
client; a plain-http server (Ollama, a loopback proxy) never needs it. For an https base URL the
context is built at once, on a thread: OpenSSL reads the bundle without Python's lock, so it runs
beside the imports and set-up that come before the first request. Verification is never weakened:
the context is httpx's own default (``httpx.create_ssl_context``: certifi, or ``SSL_CERT_FILE`` /
``SSL_CERT_DIR``), given to ``httpx.AsyncHTTPTransport``.
"""

from __future__ import annotations

import ssl
import threading
from typing import Any

import httpx

__all__ = ["SchemeTransport"]


def _no_tls_context() -> ssl.SSLContext:
    """A context that trusts no certificate: the plain-http transport never does TLS, and must not by accident."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies hostnames and certificates, with no CA loaded


class _ContextBuild(threading.Thread):
    """httpx's default TLS context, made on a daemon thread; ``result()`` waits for it (or raises its error)."""

    def __init__(self, trust_env: bool) -> None:
        super().__init__(name="tls-context", daemon=True)
        import certifi  # noqa: F401 - httpx.create_ssl_context imports it: here, so the thread imports nothing

        self._trust_env = trust_env
        self._context: ssl.SSLContext | None = None
        self._error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self._context = httpx.create_ssl_context(trust_env=self._trust_env)
        except BaseException as exc:  # noqa: BLE001 - raised where the context is used, as httpx would
            self._error = exc

    def result(self) -> ssl.SSLContext:
        self.join()
        if self._error is not None:
            raise self._error
        assert self._context is not None
        return self._context


class SchemeTransport(httpx.AsyncBaseTransport):
    """One ``AsyncHTTPTransport`` per scheme, each made on first use (the https one's context at once,
    on a thread, if ``tls_now``)."""

    def __init__(self, *, tls_now: bool = False, **options: Any) -> None:
        self._options = options
        self._plain: httpx.AsyncHTTPTransport | None = None
        self._tls: httpx.AsyncHTTPTransport | None = None
        self._tls_context = _ContextBuild(options.get("trust_env", True)) if tls_now else None

    def _for(self, scheme: str) -> httpx.AsyncHTTPTransport:
        if scheme == "http":
            if self._plain is None:
                self._plain = httpx.AsyncHTTPTransport(verify=_no_tls_context(), **self._options)
            return self._plain
        if self._tls is None:
            if self._tls_context is not None:  # usually ready by the first request
                self._tls = httpx.AsyncHTTPTransport(verify=self._tls_context.result(), **self._options)
            else:
                self._tls = httpx.AsyncHTTPTransport(**self._options)
        return self._tls

    @property
    def has_tls(self) -> bool:
        """Whether the https transport (or its TLS context) has been made or is being made."""
        return self._tls is not None or self._tls_context is not None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._for(request.url.scheme).handle_async_request(request)

    async def aclose(self) -> None:
        for transport in (self._plain, self._tls):
            if transport is not None:
                await transport.aclose()
