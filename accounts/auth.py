"""Bearer-token authentication for the REST API."""

from django.http import HttpRequest
from ninja.security import HttpBearer

from accounts.models import User
from accounts.services import token_authenticate


class AuthedRequest(HttpRequest):
    """What a handler behind `TokenAuth` receives: `auth` is the calling user."""

    auth: User


class TokenAuth(HttpBearer):
    """`Authorization: Bearer <token>`, the same token the WebSocket `auth` op takes."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = token_authenticate(token=token)
        if user is not None:
            request.user = user
        return user
