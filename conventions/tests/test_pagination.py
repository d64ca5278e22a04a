"""Cursors: what we make round-trips; anything else is a 422 naming `cursor`."""

import base64
from datetime import UTC, datetime

import orjson
import pytest

from conventions.errors import Invalid
from conventions.pagination import (
    id_cursor_decode,
    id_cursor_encode,
    moment_cursor_decode,
    moment_cursor_encode,
)


def forge(value) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


FORGED = [
    "",
    "!!!",
    "bm90IGpzb24",
    forge(["x"]),
    forge([{}]),
    forge([None]),
    forge([True]),
    forge([1.5]),
    forge([0]),
    forge([-3]),
    forge([2**63]),
    forge({"id": 1}),
    forge([1, 2, 3]),
    forge("1"),
    forge(["2026-01-01T00:00:00", 1]),  # naive
    forge(["0001-01-01T00:00:00+00:00", 1]),
    forge(["9999-12-31T23:59:59+14:00", 1]),
    forge(["yesterday", 1]),
    forge(["2026-01-01T00:00:00+00:00", "1"]),
    forge([["2026-01-01T00:00:00+00:00"], 1]),
    "A" * 5000,
]


def test_what_we_make_round_trips():
    assert id_cursor_decode(id_cursor_encode(42)) == 42
    moment = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    assert moment_cursor_decode(moment_cursor_encode(moment, 7)) == (moment, 7)


@pytest.mark.parametrize("cursor", FORGED)
def test_forged_cursors_are_invalid(cursor):
    for decode in (id_cursor_decode, moment_cursor_decode):
        with pytest.raises(Invalid) as refused:
            decode(cursor)
        assert refused.value.details == {"cursor": "invalid"}
