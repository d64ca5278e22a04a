"""Origin checking for WebSocket handshakes.

Browsers always send `Origin`; a page on a host outside ALLOWED_HOSTS is refused
with close code 1008. Servers, scripts and mobile apps send none and pass.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import validate_host

from hub.asgi import ASGIApp, Receive, Scope, Send
from hub.protocol import CLOSE_POLICY_VIOLATION
from hub.wire import close_socket


def origin_allowed(origin: str | None) -> bool:
    if origin is None:
        return True
    host = urlsplit(origin).hostname
    if not host:
        return False
    if ":" in host:  # an IPv6 literal, written as ALLOWED_HOSTS writes it
        host = f"[{host}]"
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = ["localhost", "127.0.0.1", "[::1]"]
    return validate_host(host, allowed)


class OriginCheck:
    """ASGI middleware: refuse cross-site WebSocket handshakes before anything else runs."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = None
        for name, value in scope.get("headers", ()):
            if name == b"origin":
                origin = value.decode("latin-1")
        if origin_allowed(origin):
            return await self.app(scope, receive, send)
        # Complete the handshake only to close it with a code the browser can read.
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
            await close_socket(send, CLOSE_POLICY_VIOLATION)
