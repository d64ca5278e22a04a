"""Origin checking for WebSocket handshakes.

Browsers always send `Origin`; servers, scripts and mobile apps send none and pass.
A browser origin is compared by scheme, host and port: it is accepted when it is
this server's own origin (a same-origin page), or listed in
`WEBSOCKET_ALLOWED_ORIGINS`. Without that list, the concrete names of
`ALLOWED_HOSTS` are allowed over HTTPS on the default port (and loopback names
over HTTP or HTTPS on any port, for development). Anything else is closed with
1008. A wildcard in `ALLOWED_HOSTS` allows no origin.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import split_domain_port, validate_host

from hub.asgi import ASGIApp, Receive, Scope, Send
from hub.protocol import CLOSE_POLICY_VIOLATION
from hub.wire import close_socket

DEFAULT_PORTS = {"http": 80, "https": 443}
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")

Origin = tuple[str, str, int]  # scheme, host (IPv6 in brackets), port


def parse_origin(value: str) -> Origin | None:
    """`scheme://host[:port]` as a comparable triple; None when it is not one."""
    try:
        parts = urlsplit(value.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return parts.scheme, host, port or DEFAULT_PORTS[parts.scheme]


def _own_origin(scope: Scope) -> Origin | None:
    """The origin a same-origin page has: this request's scheme and Host."""
    headers = dict(scope.get("headers", ()))
    host_header = headers.get(b"host", b"").decode("latin-1").lower()
    host, port = split_domain_port(host_header)
    if not host or not validate_host(host, settings.ALLOWED_HOSTS):
        return None
    scheme = "https" if scope.get("scheme") == "wss" else "http"
    if settings.BEHIND_PROXY and headers.get(b"x-forwarded-proto") == b"https":
        scheme = "https"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return scheme, host, int(port) if port else DEFAULT_PORTS[scheme]


def _listed(origin: Origin) -> bool:
    explicit = settings.WEBSOCKET_ALLOWED_ORIGINS
    if explicit:
        return origin in {parse_origin(value) for value in explicit}
    scheme, host, port = origin
    if host in LOOPBACK_NAMES:
        return True
    concrete = [name.lower() for name in settings.ALLOWED_HOSTS if "*" not in name]
    return scheme == "https" and port == 443 and host in concrete


def origin_allowed(origin: str | None, scope: Scope | None = None) -> bool:
    if origin is None:
        return True
    parsed = parse_origin(origin)
    if parsed is None:
        return False
    return parsed == _own_origin(scope or {}) or _listed(parsed)


class OriginCheck:
    """ASGI middleware: refuse cross-site WebSocket handshakes before anything else runs."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = None
        for name, value in scope.get("headers", ()):
            if name == b"origin":
                origin = value.decode("latin-1")
        if origin_allowed(origin, scope):
            return await self.app(scope, receive, send)
        # Complete the handshake only to close it with a code the browser can read.
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
            await close_socket(send, CLOSE_POLICY_VIOLATION)
