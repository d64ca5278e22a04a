"""Cursors: what we make round-trips; anything else is a 422 naming `cursor`."""

from datetime import UTC, datetime

import pytest

from conventions.errors import Invalid
from conventions.pagination import (
    id_cursor_decode,
    id_cursor_encode,
    moment_cursor_decode,
    moment_cursor_encode,
)
from tests.helpers import FORGED_CURSORS as FORGED


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
