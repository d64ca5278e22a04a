"""Guessing passwords is limited per account and per address, sign-ups per address, on
the API and the admin's login form alike; refusals are 429 with Retry-After and come
before any password is hashed."""

import json

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher

from tests.helpers import PASSWORD

pytestmark = pytest.mark.django_db
HASHED: list[str] = []


class CountingHasher(MD5PasswordHasher):
    """MD5 (as the suite uses), noting every hash it computes."""

    algorithm = "counting_md5"

    def encode(self, password, salt):
        HASHED.append("hash")
        return super().encode(password, salt)


@pytest.fixture(autouse=True)
def limits(settings):
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    settings.LOGIN_FAILURES_PER_ADDRESS = 5
    settings.REGISTRATIONS_PER_ADDRESS = 2
    HASHED.clear()


def login(api, email: str, password: str, address: str = "10.0.0.1"):
    body = json.dumps({"email": email, "password": password})
    return api().post(
        "/api/v1/auth/token", body, content_type="application/json", REMOTE_ADDR=address
    )


def refused(response) -> None:
    assert response.status_code == 429, response.content
    assert int(response["Retry-After"]) >= 1
    assert response.json()["error"]["code"] == "rate_limited"


def test_failed_logins_lock_the_account_before_any_hashing(api, make_user):
    user = make_user("student", email="kim@example.com")
    for _ in range(3):
        assert login(api, user.email, "wrong-guess").status_code == 401
    HASHED.clear()
    refused(login(api, user.email, PASSWORD))  # even the right password, for now
    refused(login(api, "KIM@example.com ", "another-guess"))
    assert HASHED == []  # refused before any hash
    assert login(api, make_user("student").email, PASSWORD).status_code == 200


def test_failed_logins_from_one_address_are_limited_across_accounts(api, make_user):
    for n in range(5):
        assert login(api, f"nobody{n}@example.com", "guess").status_code == 401
    refused(login(api, make_user("student").email, PASSWORD))
    assert login(api, make_user("student").email, PASSWORD, address="10.0.0.2").status_code == 200


def test_signups_are_limited_per_address(api):
    def register(n: int):
        body = {"email": f"new{n}@example.com", "password": "correct-horse-battery-9",
                "name": "New", "role": "student", "timezone": "UTC"}  # fmt: skip
        return api().call("post", "/api/v1/auth/register", body)

    assert [register(n).status_code for n in range(2)] == [201, 201]
    refused(register(3))


def test_wrong_current_passwords_count_as_failed_logins(api, make_user, token_for):
    user = make_user("student")
    client = api(token_for(user))
    body = {"current_password": "wrong", "new_password": "a-fine-new-passphrase-1"}
    for _ in range(3):
        assert client.call("post", "/api/v1/auth/password", body).status_code == 401
    refused(client.call("post", "/api/v1/auth/password", body))


def test_the_admin_login_form_is_limited_too(client, make_user):
    admin = make_user("admin", email="ada@example.com")
    for _ in range(3):
        answer = client.post("/admin/login/", {"username": admin.email, "password": "nope"})
        assert answer.status_code == 200  # the form again, with its error
    HASHED.clear()
    answer = client.post("/admin/login/", {"username": admin.email, "password": PASSWORD})
    assert answer.status_code == 429 and int(answer["Retry-After"]) >= 1
    assert HASHED == []
