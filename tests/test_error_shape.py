"""Every service error maps to its status and the one error shape."""

import pytest
from django.test import RequestFactory

from config.api import on_service_error
from conventions.errors import Conflict, Forbidden, Invalid, NotFound, RateLimited, Unauthorized


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (Unauthorized("who are you"), 401, "unauthorized"),
        (Forbidden("not for you"), 403, "forbidden"),
        (NotFound("nothing here"), 404, "not_found"),
        (Conflict("taken"), 409, "conflict"),
        (Invalid("bad", details={"x": "y"}), 422, "invalid"),
        (RateLimited("slow down", retry_after=2.2), 429, "rate_limited"),
    ],
)
def test_service_errors_map_to_status_and_shape(error, status, code):
    response = on_service_error(RequestFactory().get("/api/v1/x"), error)
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    import json

    body = json.loads(response.content)
    assert body == {"error": {"code": code, "message": error.message, "details": error.details}}
    if status == 429:
        assert response["Retry-After"] == "3"
