"""Outgoing HTTP that cannot be pointed at the inside of the network.

Webhook URLs come from users. Left alone, a URL such as ``http://169.254.169.254/latest/meta-data/`` or one whose
name resolves to ``10.0.0.5`` would make Muster's workers call the cloud metadata service or an internal admin
port on the user's behalf (server-side request forgery). Every outgoing request of a transport therefore goes
through ``session()``: its connections resolve the host themselves, refuse every address that is not globally
routable (loopback, private, link-local, carrier-grade NAT, multicast, reserved, unspecified) unless it lies in
``OUTBOUND_ALLOWED_NETWORKS``, and connect to the very address they checked, so a name cannot resolve to a public
address for the check and to an internal one for the connection. Redirects, when a caller follows them, open new
connections and are checked the same way. Proxies from the environment are ignored: they would be reached instead
of the checked address.
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import socket
import ssl
import sys
import urllib.request

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError


class RefusedAddress(OSError):
    """The host resolves only to addresses outgoing requests may not reach."""


@functools.lru_cache(maxsize=8)
def _networks(spec: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in spec if item.strip())


def allowed_networks() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return _networks(tuple(getattr(settings, "OUTBOUND_ALLOWED_NETWORKS", ()) or ()))


def address_allowed(address: str) -> bool:
    """True when an outgoing request may connect to the IP ``address``."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip.version == net.version and ip in net for net in allowed_networks()):
        return True
    return ip.is_global and not ip.is_multicast


def create_connection(address, timeout, source_address=None, socket_options=None) -> socket.socket:
    """``socket.create_connection`` that connects only to allowed addresses of the host."""
    host, port = address
    refused: list[str] = []
    error: OSError | None = None
    for family, kind, proto, _name, sockaddr in socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM):
        if not address_allowed(sockaddr[0]):
            refused.append(sockaddr[0])
            continue
        sock = None
        try:
            sock = socket.socket(family, kind, proto)
            for option in socket_options or ():
                sock.setsockopt(*option)
            if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            error = exc
            if sock is not None:
                sock.close()
    if error is not None:
        raise error
    raise RefusedAddress(
        f"{host} resolves to {', '.join(refused) or 'no address'}, which outgoing requests may not reach "
        "(an internal, loopback or link-local address; see OUTBOUND_ALLOWED_NETWORKS)."
    )


class _Guarded:
    def _new_conn(self) -> socket.socket:  # mirrors urllib3's HTTPConnection._new_conn
        try:
            sock = create_connection(
                (self._dns_host, self.port),
                self.timeout,
                source_address=self.source_address,
                socket_options=self.socket_options,
            )
        except socket.gaierror as e:
            raise NameResolutionError(self.host, self, e) from e
        except TimeoutError as e:
            raise ConnectTimeoutError(
                self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
            ) from e
        except OSError as e:
            raise NewConnectionError(self, f"Failed to establish a new connection: {e}") from e
        sys.audit("http.client.connect", self, self.host, self.port)
        return sock


class GuardedHTTPConnection(_Guarded, HTTPConnection):
    pass


class GuardedHTTPSConnection(_Guarded, HTTPSConnection):
    pass


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}


def session() -> requests.Session:
    """A ``requests`` session whose every connection is checked (see the module docstring)."""
    http = requests.Session()
    http.trust_env = False
    adapter = GuardedAdapter()
    http.mount("http://", adapter)
    http.mount("https://", adapter)
    return http


class _GuardedClientHTTP(http.client.HTTPConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = create_connection  # socket.create_connection, checked


class _GuardedClientHTTPS(http.client.HTTPSConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = create_connection  # socket.create_connection, checked


class _GuardedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_GuardedClientHTTP, req)


class _GuardedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, context: ssl.SSLContext | None = None):
        super().__init__(context=context)
        self._guarded_context = context

    def https_open(self, req):
        return self.do_open(_GuardedClientHTTPS, req, context=self._guarded_context)


def urllib_opener(context: ssl.SSLContext | None = None) -> urllib.request.OpenerDirector:
    """The ``urllib`` counterpart of ``session()``, for clients built on urllib (slack_sdk): every connection,
    redirects included, is checked; proxies from the environment are ignored; only http and https are opened."""
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler({}),
        urllib.request.UnknownHandler(),
        _GuardedHTTPHandler(),
        _GuardedHTTPSHandler(context),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPRedirectHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


def refused(exc: BaseException) -> RefusedAddress | None:
    """The ``RefusedAddress`` behind a requests/urllib3 error, if that is what it was."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, RefusedAddress):
            return exc
        for arg in getattr(exc, "args", ()):
            if isinstance(arg, BaseException):
                found = refused(arg)
                if found is not None:
                    return found
        reason = getattr(exc, "reason", None)
        exc = (reason if isinstance(reason, BaseException) else None) or exc.__cause__ or exc.__context__
    return None
