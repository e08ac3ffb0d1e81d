"""Outgoing requests never reach an internal address: not the cloud metadata service, not a private network, not
loopback (unless allowed), whatever the URL says and wherever a name resolves.

No test here connects to anything but 127.0.0.1: the resolver is stubbed, and ``socket.connect`` is guarded so
that a connection to any other address fails the test before it is attempted.
"""

from __future__ import annotations

import ast
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import requests

from core import outbound
from tests.peers import WebhookPeer

INTERNAL = [
    "169.254.169.254",  # cloud metadata
    "169.254.0.1",  # link-local
    "10.0.0.5",
    "172.16.3.4",
    "192.168.1.1",
    "100.64.0.1",  # carrier-grade NAT
    "127.0.0.1",  # loopback, when not allowed
    "127.5.5.5",
    "0.0.0.0",
    "224.0.0.1",  # multicast
    "240.0.0.1",  # reserved
    "::1",
    "fe80::1",
    "fc00::1",
    "::ffff:10.0.0.5",  # IPv4-mapped private
    "::ffff:169.254.169.254",
    "::",
]


@pytest.fixture
def connects(monkeypatch):
    """Every address a socket tried to connect to; anything but loopback fails the test before it is tried."""
    seen: list[str] = []
    real = socket.socket.connect

    def guarded(sock, address):
        host = address[0]
        seen.append(host)
        assert host.startswith("127.") or host == "::1", f"a test tried to connect to {host}"
        return real(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    return seen


def resolve_to(monkeypatch, address: str) -> None:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sockaddr = (address, 80, 0, 0) if family == socket.AF_INET6 else (address, 80)

    def fake_getaddrinfo(host, port, *args, **kwargs):
        return [(family, socket.SOCK_STREAM, 6, "", (sockaddr[0], port, *sockaddr[2:]))]

    monkeypatch.setattr(outbound.socket, "getaddrinfo", fake_getaddrinfo)


@pytest.mark.parametrize("address", INTERNAL)
def test_every_internal_address_is_refused(settings, address):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    assert outbound.address_allowed(address) is False


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::1111", "8.8.8.8"])
def test_public_addresses_are_allowed(address):
    assert outbound.address_allowed(address) is True


@pytest.mark.parametrize("address", INTERNAL)
def test_a_name_resolving_inside_is_refused_before_any_connection(settings, monkeypatch, connects, address):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    resolve_to(monkeypatch, address)
    with pytest.raises(requests.ConnectionError) as raised:
        outbound.session().get("http://innocent.example/hook", timeout=2)
    assert outbound.refused(raised.value) is not None
    assert connects == []


def test_allowed_networks_open_exactly_what_they_name(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8", "10.20.0.0/16"]
    assert outbound.address_allowed("127.0.0.1")
    assert outbound.address_allowed("10.20.5.5")
    assert not outbound.address_allowed("10.21.0.1")
    assert not outbound.address_allowed("169.254.169.254")


def test_a_redirect_to_an_internal_address_is_refused(settings, monkeypatch, connects):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    peer = WebhookPeer().start()
    try:
        peer.redirect_to = "http://metadata.internal/latest/meta-data/"
        real = socket.getaddrinfo

        def resolver(host, port, *args, **kwargs):
            if host == "metadata.internal":
                return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port))]
            return real(host, port, *args, **kwargs)

        monkeypatch.setattr(outbound.socket, "getaddrinfo", resolver)
        with pytest.raises(requests.ConnectionError) as raised:
            outbound.session().post(peer.url, json={}, timeout=5, allow_redirects=True)
    finally:
        peer.stop()
    assert len(peer.received()) == 1  # the first hop reached the peer; the redirect went nowhere
    assert outbound.refused(raised.value) is not None
    assert connects and all(host.startswith("127.") for host in connects)


def test_the_checked_address_is_the_one_connected_to(settings, monkeypatch, connects):
    """A name resolved once: the connection goes to the address that passed the check (no second lookup)."""
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    answers = iter(["127.0.0.1", "169.254.169.254"])

    peer = WebhookPeer().start()
    try:
        port = peer.server.server_address[1]

        def flipping(host, p, *args, **kwargs):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), p))]

        monkeypatch.setattr(outbound.socket, "getaddrinfo", flipping)
        answer = outbound.session().post(f"http://rebind.example:{port}/hook", json={"a": 1}, timeout=5)
    finally:
        peer.stop()
    assert answer.status_code == 200
    assert connects == ["127.0.0.1"]


# The same guarantees for clients built on urllib (slack_sdk's WebClient): the opener checks every connection.


def urllib_get(url: str, **kwargs):
    return outbound.urllib_opener().open(url, timeout=5, **kwargs)


@pytest.mark.parametrize("address", INTERNAL)
def test_urllib_a_name_resolving_inside_is_refused_before_any_connection(
    settings, monkeypatch, connects, address
):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    resolve_to(monkeypatch, address)
    with pytest.raises(urllib.error.URLError) as raised:
        urllib_get("http://innocent.example/api/chat.postMessage")
    assert outbound.refused(raised.value) is not None
    assert connects == []


def test_urllib_reaches_an_allowed_address_and_ignores_proxies_from_the_environment(
    settings, monkeypatch, connects
):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    monkeypatch.setenv(
        "http_proxy", "http://10.9.9.9:3128"
    )  # would be reached instead of the checked address
    peer = WebhookPeer().start()
    try:
        with urllib_get(peer.url) as answer:
            assert answer.status == 200
    finally:
        peer.stop()
    assert connects == ["127.0.0.1"]


def test_urllib_a_redirect_to_an_internal_address_is_refused(settings, monkeypatch, connects):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    peer = WebhookPeer().start()
    try:
        peer.redirect_to = "http://metadata.internal/latest/meta-data/"
        peer.redirect_status = 302  # urllib follows a POST's 302 (as a GET), not its 307
        real = socket.getaddrinfo

        def resolver(host, port, *args, **kwargs):
            if host == "metadata.internal":
                return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port))]
            return real(host, port, *args, **kwargs)

        monkeypatch.setattr(outbound.socket, "getaddrinfo", resolver)
        request = urllib.request.Request(peer.url, data=b"{}", method="POST")
        with pytest.raises(urllib.error.URLError) as raised:
            outbound.urllib_opener().open(request, timeout=5)
    finally:
        peer.stop()
    assert len(peer.received()) == 1
    assert outbound.refused(raised.value) is not None
    assert connects and all(host.startswith("127.") for host in connects)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "data:text/plain,hello"])
def test_urllib_opens_only_http(url):
    with pytest.raises(urllib.error.URLError):
        urllib_get(url)


# The class: no module of the project makes an outgoing HTTP request except through core.outbound.

HTTP_CLIENTS = {"requests", "urllib.request", "http.client", "httpx", "aiohttp", "urllib3", "slack_sdk"}
# module -> the client libraries it may import, and why
THROUGH_OUTBOUND = {
    "core/outbound.py": {"requests", "urllib.request", "http.client", "urllib3"},  # the guard itself
    "notifications/channels/slack.py": {
        "slack_sdk"
    },  # GuardedWebClient: connections via outbound.urllib_opener
    "notifications/channels/webhook.py": {"requests"},  # exceptions only; the session is outbound.session()
}


def _client_imports(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            found |= {client for client in HTTP_CLIENTS if name == client or name.startswith(client + ".")}
    return found


def test_every_outgoing_http_client_goes_through_outbound():
    root = Path(__file__).resolve().parents[2]
    offenders = {}
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if relative.split("/")[0] in {".venv", "tests", "bench", "node_modules"} or "/tests/" in relative:
            continue
        used = _client_imports(ast.parse(path.read_text(), filename=relative))
        extra = used - THROUGH_OUTBOUND.get(relative, set())
        if extra:
            offenders[relative] = sorted(extra)
    assert offenders == {}, f"outgoing HTTP that bypasses core.outbound: {offenders}"
