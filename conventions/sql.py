"""Small pieces of hand-written SQL that read the same on PostgreSQL and SQLite."""

from collections.abc import Sequence
from typing import Any

import orjson
from django.db import connection


def placeholders(count: int) -> str:
    """`%s, %s, …` for an `IN (…)` list or a VALUES row."""
    return ", ".join(["%s"] * count)


def row_lock(strength: str = "UPDATE") -> str:
    """` FOR UPDATE` (or ` FOR SHARE`) where the database locks rows; SQLite locks the
    whole database for a writing transaction instead, so nothing there."""
    return f" FOR {strength}" if connection.features.has_select_for_update else ""


def execute_together(statements: list[tuple[str, list[Any]]]) -> None:
    """Run statements that return nothing: on PostgreSQL in one round trip (the
    parameters are bound on the client, so several statements may share one query
    string); elsewhere one after another."""
    statements = [(sql, params) for sql, params in statements if sql]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(statements) > 1:
            cursor.execute(
                ";\n".join(sql for sql, _ in statements),
                [x for _, params in statements for x in params],
            )
            return
        for sql, params in statements:
            cursor.execute(sql, params)


def rows_source(
    columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]
) -> tuple[str, list[Any]]:
    """Rows to select from, as `v` with the named columns, and their parameters. On
    PostgreSQL one JSON parameter (`jsonb_to_recordset`): psycopg binds parameters on
    the client, and hundreds of `%s` cost more to bind than the statement to run."""
    names = [name for name, _ in columns]
    if connection.vendor == "postgresql":
        types = ", ".join(f"{name} {kind}" for name, kind in columns)
        encoded = orjson.dumps([dict(zip(names, row, strict=True)) for row in rows]).decode()
        return f"jsonb_to_recordset(%s::jsonb) AS v({types})", [encoded]
    first = "SELECT " + ", ".join(f"%s AS {name}" for name in names)
    rest = " UNION ALL SELECT " + placeholders(len(names))
    params = [
        orjson.dumps(x).decode() if isinstance(x, dict | list) else x for row in rows for x in row
    ]  # JSON columns hold text here
    return f"({first}{rest * (len(rows) - 1)}) AS v", params
