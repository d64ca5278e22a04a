"""Small pieces of hand-written SQL that read the same on PostgreSQL and SQLite."""

from collections.abc import Sequence
from typing import Any

from django.db import connection


def placeholders(count: int) -> str:
    """`%s, %s, …` for an `IN (…)` list or a VALUES row."""
    return ", ".join(["%s"] * count)


def row_lock(strength: str = "UPDATE") -> str:
    """` FOR UPDATE` (or ` FOR SHARE`) where the database locks rows; SQLite locks the
    whole database for a writing transaction instead, so nothing there."""
    return f" FOR {strength}" if connection.features.has_select_for_update else ""


def case_by_id(column: str, values: Sequence[tuple[int, Any]]) -> tuple[str, list[Any]]:
    """`CASE id WHEN … THEN … END` setting `column` per row in one UPDATE, with its params."""
    sql = f"{column} = CASE id" + " WHEN %s THEN %s" * len(values) + " END"
    return sql, [x for pair in values for x in pair]


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
