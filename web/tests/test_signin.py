"""The page's session sign-in: a CSRF-protected form limited like the API's login, and
the session cookie accepted by the REST API only together with the page's CSRF token,
while bearer clients work exactly as before."""

import re

import pytest
from django.test import Client

from accounts.services import token_create, user_create
from tests.helpers import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def student():
    return user_create(email="pat@example.com", password=PASSWORD, name="Pat",
                       role="student", timezone="Europe/Lisbon")  # fmt: skip


def signed_in(user) -> tuple[Client, str]:
    """A browser that signed in through the form, and the CSRF token the app page gave it."""
    browser = Client(enforce_csrf_checks=True)
    form = browser.get("/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.content.decode())[1]
    answer = browser.post("/login", {"email": user.email, "password": PASSWORD,
                                     "csrfmiddlewaretoken": token})  # fmt: skip
    assert answer.status_code == 302
    page = browser.get("/").content.decode()
    return browser, re.search(r'name="csrf-token" content="([^"]+)"', page)[1]


def test_a_visitor_sees_the_sign_in_form_and_the_api_links():
    page = Client().get("/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'action="/login"' in html and 'type="password"' in html
    assert "/api/v1/docs" in html and "/api/v1/openapi.json" in html


def test_signing_in_opens_the_app_and_signing_out_ends_the_session(student):
    browser, csrf = signed_in(student)
    html = browser.get("/").content.decode()
    assert 'id="chat"' in html and "/static/web/app.js" in html and "/static/web/chat.css" in html
    assert browser.get("/api/v1/me").json()["email"] == "pat@example.com"
    assert browser.post("/logout", HTTP_X_CSRFTOKEN=csrf).status_code == 302
    assert browser.get("/api/v1/me").status_code == 401


def test_a_form_without_its_csrf_token_is_refused(student):
    browser = Client(enforce_csrf_checks=True)
    answer = browser.post("/login", {"email": student.email, "password": PASSWORD})
    assert answer.status_code == 403


def test_a_wrong_password_is_said_in_words_and_counted_like_the_apis(student, settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 2
    browser = Client()
    for _ in range(2):
        answer = browser.post("/login", {"email": student.email, "password": "wrong"})
        assert answer.status_code == 401
        assert "Wrong e-mail or password." in answer.content.decode()
    refused = browser.post("/login", {"email": student.email, "password": PASSWORD})
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert 'value="pat@example.com"' in refused.content.decode()
    # The API's token login draws on the same failures.
    api = browser.post("/api/v1/auth/token", {"email": student.email, "password": PASSWORD},
                       content_type="application/json")  # fmt: skip
    assert api.status_code == 429


def test_the_session_needs_the_csrf_token_for_unsafe_methods(student):
    browser, csrf = signed_in(student)
    cross_site = browser.post("/api/v1/conversations", {"participant_id": 1},
                              content_type="application/json")  # fmt: skip
    assert cross_site.status_code == 403
    assert cross_site.json()["error"]["code"] == "forbidden"
    assert "security token" in cross_site.json()["error"]["message"]
    same_page = browser.post("/api/v1/conversations", {"participant_id": 999999},
                             content_type="application/json", HTTP_X_CSRFTOKEN=csrf)  # fmt: skip
    assert same_page.status_code == 404  # past authentication: no such participant


def test_bearer_clients_are_unchanged(student):
    _, token = token_create(user=student, name="cli")
    client = Client(enforce_csrf_checks=True)
    me = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert me.json()["id"] == student.pk
    posted = client.post("/api/v1/auth/logout", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert posted.status_code == 204
    refused = client.post("/api/v1/bookings", {}, content_type="application/json",
                          HTTP_AUTHORIZATION="Bearer hub_wrong")  # fmt: skip
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"] == "Bearer"


def test_instructors_can_be_found_by_name_or_lesson(student):
    from bookings.services import service_create

    ida = user_create(email="ida@example.com", password=PASSWORD, name="Ida Keys",
                      role="instructor", timezone="Europe/Berlin")  # fmt: skip
    user_create(email="bo@example.com", password=PASSWORD, name="Bo Strings",
                role="instructor", timezone="Europe/Berlin")  # fmt: skip
    service_create(instructor=ida, name="Piano", duration_minutes=60, price_cents=100,
                   currency="EUR", location_types=["online"])  # fmt: skip
    _, token = token_create(user=student, name="cli")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    def names(q: str) -> list[str]:
        page = Client().get(f"/api/v1/instructors?q={q}", **auth).json()
        return [item["name"] for item in page["items"]]

    assert names("keys") == ["Ida Keys"]
    assert names("piano") == ["Ida Keys"]
    assert names("") == ["Ida Keys", "Bo Strings"]
