"""REST authentication: a bearer token, or the page's session cookie with its CSRF token."""

from django.conf import settings
from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from accounts.models import User
from accounts.services import token_authenticate

CSRF_REFUSED = "The page's security token is missing or wrong; reload the page and try again."


class AuthedRequest(HttpRequest):
    """What a handler behind the API's auth receives: `auth` is the calling user."""

    auth: User


class TokenAuth(HttpBearer):
    """`Authorization: Bearer <token>`, the same token the WebSocket `auth` op takes."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = token_authenticate(token=token)
        if user is not None:
            request.user = user
        return user


class SessionAuthWithCsrf(APIKeyCookie):
    """Django's session cookie (the app at `/`), tried after the bearer token.

    The cookie alone proves nothing about who sent the request (a browser adds it to
    requests other sites make), so an unsafe method also needs the CSRF token the page
    got from our own HTML (`X-CSRFToken`): without it, 403. ninja's own SessionAuth
    checks CSRF before looking at the cookie, which would turn a bearer client's 401
    into a 403; here only a request that is signed in by its cookie is checked.
    """

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self) -> None:
        super().__init__(csrf=False)

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        user = getattr(request, "user", None)
        if not key or not isinstance(user, User) or not user.is_authenticated:
            return None
        if check_csrf(request) is not None:
            raise HttpError(403, CSRF_REFUSED)
        return user
