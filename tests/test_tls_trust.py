"""Which certificate authorities TLS trusts, and proxies for the async transport: the
environment settings that requests (and so posthog-python) honours, against a real HTTPS
loopback server whose self-signed certificate no system trusts."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import posthog
import pytest
from hogkit.transport import http
from hogkit.transport.async_http import AiohttpTransport
from httpserver import LoopbackServer, self_signed

from hogkit import Client

KEY = "phc_tls_test"
UNSET = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")


@pytest.fixture
def tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LoopbackServer, str]]:
    """An HTTPS loopback server and its certificate file, with no trust settings or proxy
    in the environment to begin with."""
    for name in (*UNSET, "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    cert, key = self_signed(tmp_path)
    with LoopbackServer(tls=(cert, key)) as server:
        yield server, cert


def delivered_through(server: LoopbackServer) -> bool:
    """Whether a Client's event reaches `server` (and is counted delivered)."""
    with Client(KEY, host=server.url, max_retries=0, timeout=5) as client:
        client.capture("over tls", distinct_id="user-1")
        delivered = client.flush(timeout=10)
    return delivered and [e["event"] for e in server.events()] == ["over tls"]


def posthog_delivers_through(server: LoopbackServer) -> bool:
    """Whether posthog-python's event reaches `server`."""
    before = len(server.events())
    client = posthog.Client("phc_reference", host=server.url, max_retries=0, sync_mode=True)
    logging.getLogger("posthog").disabled = True
    try:
        client.capture("over tls", distinct_id="user-1")
    finally:
        logging.getLogger("posthog").disabled = False
        client.shutdown()
    return len(server.events()) == before + 1


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_a_bundle_named_as_requests_reads_it_is_trusted_as_by_posthog(
    tls: tuple[LoopbackServer, str], monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    server, cert = tls
    # The system's store does not know this authority.
    assert not delivered_through(server)
    assert not posthog_delivers_through(server)
    monkeypatch.setenv(variable, cert)
    assert delivered_through(server)
    assert posthog_delivers_through(server)


def test_requests_ca_bundle_comes_before_curl_ca_bundle(
    tls: tuple[LoopbackServer, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server, cert = tls
    (tmp_path / "other").mkdir()
    other, _ = self_signed(tmp_path / "other")  # an authority that did not sign the server's
    monkeypatch.setenv("CURL_CA_BUNDLE", cert)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", other)
    with pytest.raises(http.NetworkError, match="TLS failed"):
        http.request("GET", server.url + "/first", timeout=5)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert)
    assert http.request("GET", server.url + "/second", timeout=5).status == 200


def test_a_directory_of_hashed_certificates_is_trusted(
    tls: tuple[LoopbackServer, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server, cert = tls
    directory = tmp_path / "authorities"
    directory.mkdir()
    (directory / "loopback.pem").write_text(Path(cert).read_text())
    subprocess.run(["openssl", "rehash", str(directory)], check=True, timeout=30)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(directory))
    assert http.request("GET", server.url + "/dir", timeout=5).status == 200


def test_a_bundle_that_does_not_exist_is_reported_and_verification_stays_on(
    tls: tuple[LoopbackServer, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, _ = tls
    missing = str(tmp_path / "no-such-bundle.pem")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", missing)
    with (
        caplog.at_level(logging.WARNING, logger="hogkit"),
        pytest.raises(http.NetworkError, match="TLS failed"),
    ):
        http.request("GET", server.url + "/typo", timeout=5)
    assert any(missing in record.getMessage() for record in caplog.records)
    assert server.requests() == []


def test_an_empty_variable_names_nothing(
    tls: tuple[LoopbackServer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, cert = tls
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "")
    monkeypatch.setenv("CURL_CA_BUNDLE", cert)
    assert http.request("GET", server.url + "/empty", timeout=5).status == 200
    monkeypatch.setenv("CURL_CA_BUNDLE", "")
    with pytest.raises(http.NetworkError, match="TLS failed"):
        http.request("GET", server.url + "/none", timeout=5)


def test_openssls_own_variable_is_honoured(
    tls: tuple[LoopbackServer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, cert = tls
    monkeypatch.setenv("SSL_CERT_FILE", cert)
    assert http.request("GET", server.url + "/openssl", timeout=5).status == 200


def flags_status(transport: AiohttpTransport) -> int:
    async def scenario() -> int:
        try:
            return (await transport.post_flags(b"{}", timeout=5)).status
        finally:
            await transport.aclose()

    return asyncio.run(scenario())


def test_the_async_transport_trusts_the_named_bundle(
    tls: tuple[LoopbackServer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, cert = tls
    with pytest.raises(http.NetworkError):
        flags_status(AiohttpTransport(KEY, server.url))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert)
    assert flags_status(AiohttpTransport(KEY, server.url)) == 200
    assert [r.path for r in server.requests()] == ["/flags/"]


def test_the_async_transport_goes_through_the_environments_proxy(
    loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", loopback.url.replace("http://", "http://user:secret@"))
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert flags_status(AiohttpTransport(KEY, "http://flags.example.test:8000")) == 200
    monkeypatch.setenv("NO_PROXY", "flags.example.test")  # a changed environment applies
    with pytest.raises(http.NetworkError):
        flags_status(AiohttpTransport(KEY, "http://flags.example.test:8000"))
    (sent,) = loopback.requests()
    assert sent.target.startswith("http://flags.example.test:8000/flags/")
    assert sent.path == "/flags/"
    assert sent.headers["proxy-authorization"] == "Basic dXNlcjpzZWNyZXQ="  # user:secret


_ONE_EVENT_CHILD = """
import logging, sys
logging.basicConfig(level=logging.WARNING, format="%(name)s %(message)s")
from hogkit import Client
with Client("phc_tls_test", host=sys.argv[1], max_retries=2, timeout=5) as client:
    client.capture("over tls", distinct_id="user-1")
    print("delivered" if client.flush(timeout=20) else "undelivered")
"""
_TOLD = "no certificate authorities"


def one_event(server: LoopbackServer, **environment: str) -> subprocess.CompletedProcess[str]:
    """A fresh process (the store is checked once per process) sending one event to
    `server`, with `environment` added to this one's."""
    return subprocess.run(
        [sys.executable, "-c", _ONE_EVENT_CHILD, server.url],
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_python_without_any_authority_is_told_once_what_to_set(
    tls: tuple[LoopbackServer, str], tmp_path: Path
) -> None:
    """requests brings certifi's bundle, so posthog-python works on a Python whose own
    store is empty (python.org's macOS builds before "Install Certificates"); hogkit
    says what to set instead of leaving only the failures in the log."""
    server, cert = tls
    (tmp_path / "empty").mkdir()
    nowhere = {"SSL_CERT_FILE": str(tmp_path / "none.pem"), "SSL_CERT_DIR": str(tmp_path / "empty")}
    empty = one_event(server, **nowhere)
    assert empty.stdout.split() == ["undelivered"]
    told = [line for line in empty.stderr.splitlines() if _TOLD in line]
    assert len(told) == 1, empty.stderr  # three attempts, one warning
    assert "SSL_CERT_FILE" in told[0] and "REQUESTS_CA_BUNDLE" in told[0]
    # Following the advice delivers, and with a bundle named nothing is said.
    named = one_event(server, **nowhere, REQUESTS_CA_BUNDLE=cert)
    assert named.stdout.split() == ["delivered"]
    assert _TOLD not in named.stderr


def test_a_store_with_authorities_is_not_reported(
    tls: tuple[LoopbackServer, str], tmp_path: Path
) -> None:
    server, _ = tls
    (tmp_path / "other").mkdir()
    other, _ = self_signed(tmp_path / "other")
    # A store holding one authority, not the one that signed the server's certificate.
    result = one_event(server, SSL_CERT_FILE=other)
    assert result.stdout.split() == ["undelivered"]
    assert "TLS failed" in result.stderr
    assert _TOLD not in result.stderr
