import pytest

from accounts.models import ApiToken, User
from tests.helpers import PASSWORD, assert_error

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register"
LOGIN = "/api/v1/auth/token"
ME = "/api/v1/me"


def registration(**overrides):
    body = {
        "email": "ada@example.com",
        "password": PASSWORD,
        "name": "Ada",
        "role": "student",
        "timezone": "Europe/Berlin",
    }
    body.update(overrides)
    return body


def test_register_login_me_flow(api):
    response = api().call("post", REGISTER, registration(email="  Ada@Example.com "))
    assert response.status_code == 201
    body = response.json()
    assert body["user"] == {
        "id": body["user"]["id"],
        "email": "ada@example.com",
        "name": "Ada",
        "role": "student",
        "timezone": "Europe/Berlin",
    }
    assert body["token"].startswith("hub_")

    me = api(body["token"]).call("get", ME)
    assert me.status_code == 200
    assert me.json() == {**body["user"], "unread_notifications": 0}

    login = api().call("post", LOGIN, {"email": "ADA@example.com", "password": PASSWORD})
    assert login.status_code == 200
    assert login.json()["user"] == body["user"]
    assert login.json()["token"] != body["token"]
    assert api(login.json()["token"]).call("get", ME).status_code == 200


def test_register_instructor(api):
    response = api().call("post", REGISTER, registration(role="instructor"))
    assert response.status_code == 201
    assert response.json()["user"]["role"] == "instructor"


def test_tokens_are_stored_hashed_and_track_last_use(api):
    token = api().call("post", REGISTER, registration()).json()["token"]
    stored = ApiToken.objects.get()
    assert token not in (stored.digest, stored.prefix)
    assert stored.digest != token and len(stored.digest) == 64
    assert stored.last_used_at is None
    api(token).call("get", ME)
    stored.refresh_from_db()
    assert stored.last_used_at is not None


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"password": "short"}, "password"),
        ({"password": "password123"}, "password"),
        ({"password": "12345678901"}, "password"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"name": "   "}, "name"),
        ({"role": "admin"}, "role"),
        ({"role": "wizard"}, "role"),
    ],
)
def test_register_rejects_bad_fields(api, overrides, field):
    error = assert_error(api().call("post", REGISTER, registration(**overrides)), 422, "invalid")
    assert field in error["details"]
    assert not User.objects.exists()


@pytest.mark.parametrize("missing", ["email", "password", "name", "role", "timezone"])
def test_register_rejects_missing_fields(api, missing):
    body = registration()
    del body[missing]
    error = assert_error(api().call("post", REGISTER, body), 422, "invalid")
    assert missing in error["details"]


def test_register_rejects_wrong_types(api):
    error = assert_error(api().call("post", REGISTER, registration(email=5)), 422, "invalid")
    assert "email" in error["details"]


def test_register_duplicate_email_is_conflict(api):
    assert api().call("post", REGISTER, registration()).status_code == 201
    error = assert_error(
        api().call("post", REGISTER, registration(email="ADA@example.com")), 409, "conflict"
    )
    assert error["details"] == {"email": "taken"}
    assert User.objects.count() == 1


def test_body_that_is_not_json_is_400(api):
    assert_error(api().call("post", REGISTER, raw="{not json"), 400, "bad_request")


def test_json_that_is_not_an_object_is_422(api):
    assert_error(api().call("post", REGISTER, raw="[1, 2]"), 422, "invalid")


def test_empty_body_is_400(api):
    assert_error(api().call("post", REGISTER), 400, "bad_request")


def test_login_wrong_password_and_unknown_email_look_the_same(api, make_user):
    user = make_user()
    wrong = assert_error(
        api().call("post", LOGIN, {"email": user.email, "password": "nope-nope-nope"}),
        401,
        "unauthorized",
    )
    unknown = assert_error(
        api().call("post", LOGIN, {"email": "ghost@example.com", "password": PASSWORD}),
        401,
        "unauthorized",
    )
    assert wrong == unknown


def test_login_of_deactivated_user_is_refused(api, make_user):
    user = make_user()
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert_error(
        api().call("post", LOGIN, {"email": user.email, "password": PASSWORD}), 401, "unauthorized"
    )


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer nonsense", "Bearer hub_unknown", "Basic abc", "Token hub_x"],
)
def test_me_requires_a_valid_token(api, header):
    headers = {"Authorization": header} if header else {}
    response = api().call("get", ME, headers=headers)
    assert_error(response, 401, "unauthorized")
    assert response["WWW-Authenticate"] == "Bearer"


def test_revoked_token_is_refused(api, make_user, token_for):
    user = make_user()
    token = token_for(user)
    assert api(token).call("get", ME).status_code == 200
    assert api(token).call("delete", LOGIN).status_code == 204
    assert ApiToken.objects.get().revoked_at is not None
    assert_error(api(token).call("get", ME), 401, "unauthorized")


def test_token_of_deactivated_user_is_refused(api, make_user, token_for):
    user = make_user()
    token = token_for(user)
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert_error(api(token).call("get", ME), 401, "unauthorized")


def test_unknown_api_path_is_404_in_the_error_shape(api):
    assert_error(api().call("get", "/api/v1/nowhere"), 404, "not_found")


def test_wrong_method_is_405_in_the_error_shape(api, make_user, token_for):
    assert_error(api().call("put", ME), 405, "method_not_allowed")


def test_openapi_document_and_docs(api):
    schema = api().call("get", "/api/v1/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("/api/v1/auth/register", "/api/v1/auth/token", "/api/v1/me"):
        assert path in paths
    schemes = schema.json()["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in schemes.values())
    assert api().call("get", "/api/v1/docs").status_code == 200
