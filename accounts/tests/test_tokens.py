"""Tokens live for a while and are renewed by use; a person sees and revokes their own,
logs out, and changes their password, which revokes every other token."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ApiToken
from accounts.services import token_create, tokens_prune

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-9"


@pytest.fixture
def person(make_user):
    return make_user("student", email="pat@example.com")


def me(api, token) -> int:
    return api(token).call("get", "/api/v1/me").status_code


def test_a_token_expires_unless_used_and_each_use_renews_it(api, person, settings):
    api_token, token = token_create(user=person)
    assert api_token.expires_at - timezone.now() > timedelta(days=29)
    soon = timezone.now() + timedelta(minutes=5)
    ApiToken.objects.filter(pk=api_token.pk).update(expires_at=soon, last_used_at=None)
    assert me(api, token) == 200
    renewed = ApiToken.objects.get(pk=api_token.pk).expires_at
    assert renewed - timezone.now() > timedelta(days=29)  # used: another 30 days

    ApiToken.objects.filter(pk=api_token.pk).update(expires_at=timezone.now())
    assert me(api, token) == 401
    assert tokens_prune() == 1
    assert not ApiToken.objects.filter(pk=api_token.pk).exists()


def test_the_lifetime_is_a_setting(person, settings):
    settings.TOKEN_LIFETIME_DAYS = 2
    api_token, _ = token_create(user=person)
    assert timedelta(days=1) < api_token.expires_at - timezone.now() <= timedelta(days=2)


def test_logout_revokes_this_token_only(api, person):
    _, first = token_create(user=person)
    _, second = token_create(user=person)
    assert api(first).call("post", "/api/v1/auth/logout").status_code == 204
    assert me(api, first) == 401
    assert me(api, second) == 200


def test_a_person_lists_their_live_tokens_and_never_a_secret(api, person, make_user):
    older, _ = token_create(user=person)
    gone, _ = token_create(user=person)
    _, current = token_create(user=person)
    ApiToken.objects.filter(pk=gone.pk).update(revoked_at=timezone.now())
    token_create(user=make_user("student"))  # someone else's

    response = api(current).call("get", "/api/v1/auth/tokens")
    assert response.status_code == 200
    items = response.json()["items"]
    live = ApiToken.objects.filter(user=person, revoked_at=None).order_by("-pk")
    assert [item["id"] for item in items] == [token.pk for token in live]
    assert older.pk in [item["id"] for item in items] and gone.pk not in live
    assert [item["current"] for item in items] == [True, False]
    assert set(items[0]) == {
        "id", "name", "prefix", "created_at", "last_used_at", "expires_at", "current"
    }  # fmt: skip
    assert current not in response.content.decode()
    assert response.json()["next_cursor"] is None

    paged = api(current).call("get", "/api/v1/auth/tokens?limit=1").json()
    assert paged["items"][0]["current"]
    assert len(paged["items"]) == 1 and paged["next_cursor"]
    rest = api(current).call("get", f"/api/v1/auth/tokens?limit=1&cursor={paged['next_cursor']}")
    assert [i["id"] for i in rest.json()["items"]] == [older.pk]


def test_revoking_one_token_by_id_and_another_persons_id_is_not_found(api, person, make_user):
    _, current = token_create(user=person)
    other, other_token = token_create(user=person)
    stranger, _ = token_create(user=make_user("student"))
    client = api(current)
    assert client.call("delete", f"/api/v1/auth/tokens/{stranger.pk}").status_code == 404
    assert client.call("delete", "/api/v1/auth/tokens/999999").status_code == 404
    assert ApiToken.objects.get(pk=stranger.pk).revoked_at is None
    assert client.call("delete", f"/api/v1/auth/tokens/{other.pk}").status_code == 204
    assert me(api, other_token) == 401
    assert client.call("delete", f"/api/v1/auth/tokens/{other.pk}").status_code == 404


def test_changing_the_password_revokes_every_other_token(api, person):
    _, current = token_create(user=person)
    _, other = token_create(user=person)
    client = api(current)
    wrong = client.call(
        "post", "/api/v1/auth/password", {"current_password": "nope", "new_password": "x"}
    )
    assert wrong.status_code == 401
    weak = client.call(
        "post", "/api/v1/auth/password", {"current_password": PASSWORD, "new_password": "123"}
    )
    assert weak.status_code == 422 and "new_password" in weak.json()["error"]["details"]
    assert me(api, other) == 200  # refusals change nothing

    changed = client.call(
        "post",
        "/api/v1/auth/password",
        {"current_password": PASSWORD, "new_password": "a-brand-new-passphrase-7"},
    )
    assert changed.status_code == 204
    assert me(api, current) == 200 and me(api, other) == 401
    login = api().call("post", "/api/v1/auth/token", {"email": person.email, "password": PASSWORD})
    assert login.status_code == 401
    login = api().call(
        "post",
        "/api/v1/auth/token",
        {"email": person.email, "password": "a-brand-new-passphrase-7"},
    )
    assert login.status_code == 200
