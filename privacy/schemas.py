from ninja import Schema
from pydantic import Field


class ExportStatusOut(Schema):
    """An export as asked for: the archive comes from `GET /me/exports/{id}` once ready."""

    id: int
    status: str


class EraseIn(Schema):
    password: str = Field(max_length=128)


class ErasedOut(Schema):
    status: str
