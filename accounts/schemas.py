from datetime import datetime

from ninja import Schema
from pydantic import Field

from conventions.types import BoundedMoment


class UserOut(Schema):
    id: int
    email: str
    name: str
    role: str
    timezone: str


class MeOut(UserOut):
    # Kept by the notifications app, which registers it in accounts.me.
    unread_notifications: int = 0


class RegisterIn(Schema):
    email: str = Field(max_length=254)
    password: str = Field(max_length=128)
    name: str = Field(max_length=150)
    role: str
    timezone: str = Field(max_length=64)
    # What a browser's form sends: a string, absent, null or "" (all three: no invite).
    invite_code: str | None = Field(default=None, max_length=100)


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


class InviteIn(Schema):
    email: str | None = Field(default=None, max_length=254)
    role: str = Field(max_length=16)
    uses: int = Field(default=1, ge=1, le=100_000)
    expires_at: BoundedMoment | None = None


class InviteOut(Schema):
    """An invite as created: `code` is shown only in this answer (it is stored hashed)."""

    id: int
    code: str
    email: str | None
    role: str
    uses: int
    uses_spent: int
    expires_at: datetime | None
    created_at: datetime
