"""Bearer-token authentication for the REST API."""

from django.http import HttpRequest
from ninja.security import HttpBearer

from accounts.services import token_authenticate


class TokenAuth(HttpBearer):
    """`Authorization: Bearer <token>`, the same token the WebSocket `auth` op takes."""

    def authenticate(self, request: HttpRequest, token: str):
        user = token_authenticate(token=token)
        if user is not None:
            request.user = user
        return user
