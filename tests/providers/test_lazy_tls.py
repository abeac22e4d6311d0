"""The providers' HTTP transport: no TLS context for a plain-http server, full verification for https.

The https cases run a real TLS server on loopback with a self-signed certificate made by the
``openssl`` command (skipped where it is missing).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import ssl
import subprocess
import threading
from pathlib import Path

import httpx
import pytest

from tests.fakes import Reply
from tui_agents.errors import ProviderConnectionError
from tui_agents.providers import get_provider
from tui_agents.providers._lazy_tls import SchemeTransport

from .conftest import TEST_KEY, collect


async def test_a_plain_http_server_never_costs_a_tls_context(make_provider, fake_llm):
    fake_llm.script(Reply(text="hello"))
    provider = make_provider("ollama")
    transport = provider._client._transport
    assert isinstance(transport, SchemeTransport) and not transport.has_tls
    events = await collect(provider.stream([_user("hi")]))
    assert "hello" in "".join(getattr(e, "text", "") for e in events)
    assert await provider.list_models()
    assert not transport.has_tls


def test_an_https_server_gets_its_tls_context_with_the_client():
    provider = get_provider("openai", api_key=TEST_KEY, base_url="https://api.example.invalid/v1")
    assert provider._client._transport.has_tls
    asyncio.run(provider.aclose())


@pytest.fixture
def certificate(tmp_path) -> Path:
    """A self-signed certificate (and key) for 127.0.0.1; the certificate's path."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", str(key),
                    "-out", str(cert), "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert


async def _serve_models_over_tls(cert: Path) -> asyncio.Server:
    """A loopback HTTPS server answering every request with a one-model OpenAI model list."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, cert.with_name("key.pem"))
    body = json.dumps({"object": "list", "data": [{"id": "tls-model", "object": "model"}]}).encode()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (await reader.readline()) not in (b"\r\n", b""):
                pass
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n"
                         b"content-length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
        except (ssl.SSLError, ConnectionError):
            pass  # the client refused our certificate
        finally:
            writer.close()

    return await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)


async def test_https_still_verifies_the_server_certificate(certificate, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    server = await _serve_models_over_tls(certificate)
    port = server.sockets[0].getsockname()[1]
    provider = get_provider("openai", api_key=TEST_KEY, base_url=f"https://127.0.0.1:{port}/v1", max_retries=0)
    try:
        with pytest.raises(ProviderConnectionError) as raised:
            await provider.list_models()
        assert "CERTIFICATE_VERIFY_FAILED" in str(raised.value.__cause__)
    finally:
        await provider.aclose()
        server.close()


async def test_https_trusts_what_httpx_trusts_from_the_environment(certificate, monkeypatch):
    """SSL_CERT_FILE (httpx's trust_env) still applies to the lazily made context, e.g. on a redirect to https."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate))
    server = await _serve_models_over_tls(certificate)
    port = server.sockets[0].getsockname()[1]
    transport = SchemeTransport()
    assert not transport.has_tls
    provider = get_provider("openai", api_key=TEST_KEY, base_url=f"https://127.0.0.1:{port}/v1", max_retries=0,
                            transport=transport)
    try:
        assert await provider.list_models() == ["tls-model"]
        assert transport.has_tls
    finally:
        await provider.aclose()
        server.close()


async def test_an_https_base_url_builds_httpxs_context_on_a_thread_and_trusts_the_environment(certificate, monkeypatch):
    """The context of an https base URL is made beside the caller's work (OpenSSL reads the bundle without the
    GIL), by httpx's own ``create_ssl_context``, so SSL_CERT_FILE still applies and nothing is weakened."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate))
    made_on: list[str] = []
    create = httpx.create_ssl_context

    def recording(*args, **kwargs):
        made_on.append(threading.current_thread().name)
        return create(*args, **kwargs)

    monkeypatch.setattr(httpx, "create_ssl_context", recording)
    server = await _serve_models_over_tls(certificate)
    port = server.sockets[0].getsockname()[1]
    provider = get_provider("openai", api_key=TEST_KEY, base_url=f"https://127.0.0.1:{port}/v1", max_retries=0)
    try:
        assert await provider.list_models() == ["tls-model"]
        assert made_on and made_on[0] != threading.main_thread().name
    finally:
        await provider.aclose()
        server.close()


async def test_a_bad_ca_setting_still_fails_the_request(monkeypatch, tmp_path):
    """A broken SSL_CERT_FILE fails the first https request with httpx's own error, never a weaker context."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    provider = get_provider("openai", api_key=TEST_KEY, base_url="https://127.0.0.1:9/v1", max_retries=0)
    try:
        with pytest.raises(FileNotFoundError):
            await provider.list_models()
    finally:
        await provider.aclose()


def _user(text: str):
    from tui_agents.types import Message

    return Message(role="user", content=text)
