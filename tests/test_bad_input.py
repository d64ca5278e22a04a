"""Bad input on any list or body: a forged cursor is 422 and an oversized body 413, in the
error shape, never a 500."""

import pytest

from tests.helpers import FORGED_CURSORS as FORGED

LISTS = [
    "/api/v1/instructors",
    "/api/v1/bookings",
    "/api/v1/conversations",
    "/api/v1/credits",
]


@pytest.mark.parametrize("path", LISTS)
def test_forged_cursors_are_422(path, make_user, token_for, api):
    client = api(token_for(make_user("student")))
    for cursor in [c for c in FORGED if c]:
        response = client.call("get", f"{path}?cursor={cursor}")
        assert response.status_code == 422, (cursor, response.content)
        assert response.json()["error"]["code"] == "invalid"
        assert "cursor" in response.json()["error"]["details"]


@pytest.mark.parametrize(
    "method, path",
    [
        ("post", "/api/v1/auth/register"),
        ("post", "/api/v1/auth/token"),
        ("post", "/api/v1/bookings"),
        ("post", "/api/v1/conversations"),
        ("patch", "/api/v1/instructors/me"),
    ],
)
def test_a_body_over_the_limit_is_413_in_the_error_shape(method, path, make_user, token_for, api):
    client = api(token_for(make_user("student")))
    huge = '{"body": "' + "x" * (3 * 1024 * 1024) + '"}'
    response = client.call(method, path, raw=huge)
    assert response.status_code == 413, response.content
    assert response.json()["error"]["code"] == "too_large"
    assert response.json()["error"]["details"] == {"limit": 1024 * 1024}
