"""Every list endpoint answers a forged cursor with 422 in the error shape, never a 500."""

import pytest

from conventions.tests.test_pagination import FORGED

LISTS = ["/api/v1/instructors", "/api/v1/bookings", "/api/v1/conversations"]


@pytest.mark.parametrize("path", LISTS)
def test_forged_cursors_are_422(path, make_user, token_for, api):
    client = api(token_for(make_user("student")))
    for cursor in [c for c in FORGED if c]:
        response = client.call("get", f"{path}?cursor={cursor}")
        assert response.status_code == 422, (cursor, response.content)
        assert response.json()["error"]["code"] == "invalid"
        assert "cursor" in response.json()["error"]["details"]
