from datetime import datetime

from ninja import Schema
from pydantic import Field


class UserOut(Schema):
    id: int
    email: str
    name: str
    role: str
    timezone: str


class RegisterIn(Schema):
    email: str = Field(max_length=254)
    password: str = Field(max_length=128)
    name: str = Field(max_length=150)
    role: str
    timezone: str = Field(max_length=64)


class LoginIn(Schema):
    email: str = Field(max_length=254)
    password: str = Field(max_length=128)


class TokenOut(Schema):
    token: str
    user: UserOut


class TokenInfoOut(Schema):
    """A token as its owner sees it: never the secret."""

    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime
    current: bool


class TokenPage(Schema):
    items: list[TokenInfoOut]
    next_cursor: str | None


class PasswordChangeIn(Schema):
    current_password: str = Field(max_length=128)
    new_password: str = Field(max_length=128)
