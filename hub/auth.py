"""Session-cookie authentication for same-origin browser pages.

Reads the session only (a socket never writes one), so unlike Channels' session
middleware it leaves the ASGI `send` untouched; clients without a cookie cost
nothing here and authenticate with their first frame instead.
"""

from collections.abc import Iterable
from http.cookies import SimpleCookie

from channels.auth import get_user
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.utils.module_loading import import_string

from hub.asgi import ASGIApp, Receive, Scope, Send


def session_key_from(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"cookie":
            cookie = SimpleCookie()
            try:
                cookie.load(value.decode("latin-1"))
            except Exception:
                return None
            morsel = cookie.get(settings.SESSION_COOKIE_NAME)
            return morsel.value if morsel else None
    return None


class SessionAuth:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = session_key_from(scope.get("headers", ()))
        if not key:
            # No cookie: the scope passes unchanged (no copy per connection), and
            # the consumer waits for a token frame.
            return await self.app(scope, receive, send)
        store = import_string(settings.SESSION_ENGINE + ".SessionStore")
        scope = dict(scope, session=store(session_key=key), user=AnonymousUser())
        scope["user"] = await get_user(scope)
        return await self.app(scope, receive, send)
