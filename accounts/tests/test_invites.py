"""Beta invites: created by staff, checked and spent in the registration's transaction."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ApiToken, Invite, User
from accounts.services import invite_create, token_digest
from tests.helpers import PASSWORD, ApiClient, assert_error, race

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register"
INVITES = "/api/v1/invites"


@pytest.fixture
def admin(db):
    return User.objects.create_superuser(email="staff@example.com", password=PASSWORD, name="St")


@pytest.fixture
def as_admin(api, token_for, admin):
    return api(token_for(admin))


def registration(**overrides):
    body = {
        "email": "ada@example.com",
        "password": PASSWORD,
        "name": "Ada",
        "role": "student",
        "timezone": "Europe/Lisbon",
    }
    body.update(overrides)
    return body


def new_invite(admin, **fields) -> tuple[Invite, str]:
    fields.setdefault("role", "student")
    return invite_create(created_by=admin, **fields)


def test_admin_creates_an_invite_and_sees_its_code_once(as_admin, admin):
    later = (timezone.now() + timedelta(days=3)).replace(microsecond=0)
    response = as_admin.call(
        "post",
        INVITES,
        {"email": " Bo@Example.COM ", "role": "instructor", "uses": 3,
         "expires_at": later.isoformat().replace("+00:00", "Z")},
    )  # fmt: skip
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["code"].startswith("inv_") and len(body["code"]) > 30
    assert body["email"] == "bo@example.com"
    assert (body["role"], body["uses"], body["uses_spent"]) == ("instructor", 3, 0)
    invite = Invite.objects.get(pk=body["id"])
    assert invite.created_by == admin
    assert invite.expires_at == later
    # Stored as a digest only.
    assert invite.digest == token_digest(body["code"]) and body["code"] not in invite.digest


def test_defaults_are_one_use_no_email_no_expiry(as_admin):
    body = as_admin.call("post", INVITES, {"role": "student"}).json()
    assert (body["email"], body["uses"], body["expires_at"]) == (None, 1, None)


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"role": "admin"}, "role"),
        ({"role": "student", "uses": 0}, "uses"),
        ({"role": "student", "email": "not-an-email"}, "email"),
        ({"role": "student", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"role": "student", "expires_at": "2999-01-01T00:00:00"}, "expires_at"),
    ],
)
def test_bad_invites_are_refused(as_admin, payload, field):
    error = assert_error(as_admin.call("post", INVITES, payload), 422, "invalid")
    assert field in error["details"]
    assert not Invite.objects.exists()


def test_only_admins_create_invites(api, as_student, as_instructor):
    assert_error(api().call("post", INVITES, {"role": "student"}), 401, "unauthorized")
    assert_error(as_student.call("post", INVITES, {"role": "student"}), 403, "forbidden")
    assert_error(as_instructor.call("post", INVITES, {"role": "student"}), 403, "forbidden")
    assert not Invite.objects.exists()


def test_the_exact_json_a_browser_sends_registers(admin, settings):
    settings.REGISTRATION_REQUIRES_INVITE = True
    _, code = new_invite(admin)
    browser = {"email": "ada@example.com", "password": PASSWORD, "name": "Ada",
               "role": "student", "timezone": "Europe/Lisbon", "invite_code": code}  # fmt: skip
    raw = json.dumps(browser)
    response = ApiClient().post(REGISTER, data=raw, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["user"]["email"] == "ada@example.com"
    assert Invite.objects.get().uses_spent == 1


def test_the_invite_grants_its_role_through_role_assign(api, admin, settings, monkeypatch):
    from accounts import services

    assigned = []
    real = services.role_assign
    monkeypatch.setattr(
        services, "role_assign", lambda **kw: assigned.append(kw["role"]) or real(**kw)
    )
    settings.REGISTRATION_REQUIRES_INVITE = True
    _, code = new_invite(admin, role="instructor")
    response = api().call("post", REGISTER, registration(invite_code=code))
    assert response.status_code == 201, response.content
    assert response.json()["user"]["role"] == "instructor"
    assert assigned[-1] == "instructor"
    user = User.objects.get(email="ada@example.com")
    assert (user.role, user.is_staff) == ("instructor", False)


def test_required_invite_is_required(api, settings):
    settings.REGISTRATION_REQUIRES_INVITE = True
    for body in (registration(), registration(invite_code=None), registration(invite_code="")):
        error = assert_error(api().call("post", REGISTER, body), 422, "invalid")
        assert error["details"] == {"invite_code": "required"}
    assert not User.objects.exists()


def _refusal(api, code, **overrides):
    error = assert_error(
        api().call("post", REGISTER, registration(invite_code=code, **overrides)), 422, "invalid"
    )
    return error["details"]


def test_each_bad_code_says_why_and_creates_nothing(api, admin, settings):
    settings.REGISTRATION_REQUIRES_INVITE = True
    assert _refusal(api, "inv_nothing-like-it") == {"invite_code": "unknown"}

    expired, expired_code = new_invite(admin, expires_at=timezone.now() + timedelta(seconds=60))
    Invite.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _refusal(api, expired_code) == {"invite_code": "expired"}

    _, bound_code = new_invite(admin, email="Grace@Example.com")
    assert _refusal(api, bound_code) == {"invite_code": "for another e-mail"}

    _, used_code = new_invite(admin)
    first = api().call("post", REGISTER, registration(email="x@example.com", invite_code=used_code))
    assert first.status_code == 201
    assert _refusal(api, used_code) == {"invite_code": "used up"}

    assert set(User.objects.values_list("email", flat=True)) == {"x@example.com", admin.email}
    assert ApiToken.objects.filter(user__email="ada@example.com").count() == 0


def test_a_bound_invite_matches_the_email_case_insensitively(api, admin):
    invite, code = new_invite(admin, email="Ada@Example.com")
    response = api().call("post", REGISTER, registration(email="ADA@example.COM", invite_code=code))
    assert response.status_code == 201, response.content
    invite.refresh_from_db()
    assert invite.uses_spent == 1


def test_a_failed_registration_does_not_spend_the_invite(api, admin, make_user):
    taken = make_user()
    invite, code = new_invite(admin)
    response = api().call("post", REGISTER, registration(email=taken.email, invite_code=code))
    assert_error(response, 409, "conflict")
    weak = api().call("post", REGISTER, registration(password="short", invite_code=code))
    assert_error(weak, 422, "invalid")
    invite.refresh_from_db()
    assert invite.uses_spent == 0


def test_without_the_setting_a_given_code_is_still_checked_and_spent(api, admin, settings):
    settings.REGISTRATION_REQUIRES_INVITE = False
    assert api().call("post", REGISTER, registration()).status_code == 201
    assert _refusal(api, "inv_wrong", email="b@example.com") == {"invite_code": "unknown"}
    invite, code = new_invite(admin, role="instructor")
    response = api().call("post", REGISTER, registration(email="c@example.com", invite_code=code))
    assert response.status_code == 201
    assert response.json()["user"]["role"] == "instructor"
    invite.refresh_from_db()
    assert invite.uses_spent == 1


def test_a_multi_use_invite_runs_out(api, admin):
    _, code = new_invite(admin, uses=2)
    for n in range(2):
        body = registration(email=f"u{n}@example.com", invite_code=code)
        assert api().call("post", REGISTER, body).status_code == 201
    assert _refusal(api, code, email="u3@example.com") == {"invite_code": "used up"}


def test_throttling_comes_before_any_invite_work(api, admin, settings):
    settings.REGISTRATIONS_PER_ADDRESS = 1
    settings.REGISTRATIONS_WINDOW_SECONDS = 3600
    assert _refusal(api, "inv_wrong") == {"invite_code": "unknown"}
    invite, code = new_invite(admin)
    response = api().call("post", REGISTER, registration(invite_code=code))
    assert_error(response, 429, "rate_limited")
    invite.refresh_from_db()
    assert invite.uses_spent == 0


def test_admin_creates_an_invite_and_the_code_is_shown_once(admin_client):
    response = admin_client.post(
        "/admin/accounts/invite/add/",
        {"email": "", "role": "instructor", "uses_allowed": 2},
        follow=True,
    )
    assert response.status_code == 200
    invite = Invite.objects.get()
    assert (invite.role, invite.uses_allowed, invite.created_by.email) == (
        "instructor", 2, "root@example.com",
    )  # fmt: skip
    shown = [str(m) for m in response.context["messages"]]
    assert any(invite.prefix in m for m in shown)
    assert admin_client.get("/admin/accounts/invite/").status_code == 200
    assert admin_client.get(f"/admin/accounts/invite/{invite.pk}/change/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_two_racing_registrations_cannot_both_spend_a_single_use_code(admin):
    outcomes = []
    for round_ in range(3):
        invite, code = new_invite(admin)

        def register(n, code=code, round_=round_):
            body = registration(email=f"r{round_}-{n}@example.com", invite_code=code)
            response = ApiClient().call("post", REGISTER, body)
            return response.status_code, response.json()

        results = race([lambda: register(1), lambda: register(2)])
        statuses = sorted(status for status, _ in results)
        assert statuses == [201, 422], results
        refused = next(body for status, body in results if status == 422)
        assert refused["error"]["details"] == {"invite_code": "used up"}
        invite.refresh_from_db()
        assert invite.uses_spent == 1
        outcomes.append(User.objects.filter(email__startswith=f"r{round_}-").count())
    assert outcomes == [1, 1, 1]
