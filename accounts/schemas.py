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
