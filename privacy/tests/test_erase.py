"""Erasing an account over REST: who may, what the person and the other side see after,
what is kept for accounting, and that a second erasure finds nothing to do."""

import json

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts.models import ApiToken, User
from accounts.services import invite_create
from conventions.errors import Forbidden, Unauthorized
from conventions.models import OutgoingEmail
from hub.models import Event
from notifications.models import Notification, NotificationSettings
from payments.models import CreditEntry, Payment
from privacy import tasks
from privacy.models import DataExport, Erasure
from privacy.services import account_erase, export_request
from privacy.services.erasure import CANCEL_REASON
from tests.helpers import PASSWORD, assert_error, events_on

pytestmark = pytest.mark.django_db

ERASE = "/api/v1/me/erase"


def erase(client, password=PASSWORD):
    return client.call("post", ERASE, {"password": password})


def test_a_wrong_password_a_bad_body_or_no_token_erase_nothing(api, world, settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    me = api(world.student_token)
    error = assert_error(erase(me, "not-my-password"), 401, "unauthorized")
    assert "password" in error["message"].lower()
    assert_error(me.call("post", ERASE, raw="{not json"), 400, "bad_request")
    assert assert_error(me.call("post", ERASE, {}), 422, "invalid")["details"] == {
        "password": "Field required"
    }
    for token in (None, "hub_not-a-token"):
        assert_error(erase(api(token)), 401, "unauthorized")
    # Wrong passwords count as failed logins: the account's limit refuses the next try.
    erase(me, "wrong-again")
    erase(me, "and-again")
    assert_error(erase(me), 429, "rate_limited")
    world.student.refresh_from_db()
    assert world.student.is_active and not Erasure.objects.exists()


def test_staff_accounts_are_not_erased(api, token_for):
    admin = User.objects.create_superuser(email="boss@example.com", password=PASSWORD, name="B")
    assert_error(erase(api(token_for(admin))), 403, "forbidden")
    admin.refresh_from_db()
    assert admin.is_active and admin.name == "B"


def test_after_erasure_the_person_is_gone_and_cannot_come_back(api, world, token_for):
    old_email = world.student.email
    other_token = token_for(world.student)
    answer = erase(api(world.student_token))
    assert (answer.status_code, answer.json()) == (202, {"status": "erased"})

    student = User.objects.get(pk=world.student.pk)
    assert (student.name, student.email) == ("deleted user", f"deleted-{student.pk}@erased.invalid")
    assert not student.is_active and not student.has_usable_password()
    assert student.timezone == "UTC" and student.last_login is None
    assert not ApiToken.objects.filter(user=student).exists()
    for token in (world.student_token, other_token):
        assert_error(api(token).call("get", "/api/v1/me"), 401, "unauthorized")
    for email in (old_email, student.email):
        login = api().call("post", "/api/v1/auth/token", {"email": email, "password": PASSWORD})
        assert_error(login, 401, "unauthorized")
    (erasure,) = Erasure.objects.all()
    assert erasure.user_id == student.pk and erasure.by_staff is None
    assert erasure.finished_at is not None and erasure.claimed_until is None
    # Registering the erased address is refused: no one may take it.
    register = api().call("post", "/api/v1/auth/register", {
        "email": f"deleted-{student.pk + 1}@erased.invalid", "password": PASSWORD, "name": "X",
        "role": "student", "timezone": "UTC"})  # fmt: skip
    assert assert_error(register, 422, "invalid")["details"] == {
        "email": "Enter a valid e-mail address."
    }


def test_the_other_side_sees_a_deleted_user_and_none_of_their_words(api, world):
    secrets = ("My secret is 42", world.student.name, world.student.email, "12 Secret Lane",
               "Ring twice")  # fmt: skip
    erase(api(world.student_token))
    teacher = api(world.instructor_token)
    (inbox,) = teacher.call("get", "/api/v1/conversations").json()["items"]
    assert inbox["student"] == {"id": world.student.pk, "name": "deleted user"}
    history = teacher.call("get", f"/api/v1/conversations/{world.conversation.pk}/messages")
    by_id = {m["id"]: m for m in history.json()["items"]}
    assert (by_id[world.said.pk]["body"], by_id[world.said.pk]["deleted"]) == (None, True)
    assert by_id[world.heard.pk]["body"] == "Noted, see you"
    booking = teacher.call("get", f"/api/v1/bookings/{world.upcoming.pk}").json()
    assert booking["student"]["name"] == "deleted user"
    assert (booking["note"], booking["place"]["text"]) == ("", "")
    notices = teacher.call("get", "/api/v1/notifications").json()["items"]
    assert {n["data"]["with"]["name"] for n in notices if "with" in n["data"]} == {"deleted user"}

    stored = json.dumps([e.data for e in Event.objects.all()])
    for secret in secrets:
        assert secret not in stored, secret
    assert "Noted, see you" in stored  # the instructor's own words stay theirs
    assert events_on(f"user:{world.student.pk}", notices=True) == []
    erased = events_on(f"conversation:{world.conversation.pk}")[-1]
    assert erased == ("participant.erased", {"user_id": world.student.pk, "name": "deleted user"})


def test_lessons_to_come_are_cancelled_and_the_records_kept_without_card_data(api, world):
    erase(api(world.student_token))
    upcoming, past = (world.upcoming, world.past)
    upcoming.refresh_from_db()
    past.refresh_from_db()
    assert (upcoming.status, upcoming.cancelled_by_id) == ("cancelled", world.student.pk)
    assert upcoming.cancel_reason == CANCEL_REASON
    assert upcoming.payment.status == "released"
    assert (past.status, past.payment.status) == ("completed", "captured")
    cancelled = [d for t, d in events_on(f"user:{world.instructor.pk}") if t == "booking.cancelled"]
    assert cancelled[-1]["id"] == upcoming.pk
    assert cancelled[-1]["cancel_reason"] == CANCEL_REASON
    assert Payment.objects.filter(payer=world.student).count() == 2
    for payment in Payment.objects.filter(payer=world.student):
        assert (payment.client_secret, payment.customer_id, payment.payment_method_id) == (
            "", "", "",
        )  # fmt: skip
    assert Payment.objects.get(pk=past.payment_id).intent_id == "dev_pi_past"  # for refunds
    credit = CreditEntry.objects.get(pk=world.credit.pk)
    assert (credit.amount_cents, credit.note) == (500, "")


def test_their_notifications_exports_outbox_sessions_and_invites_go(api, world, make_user):
    old_email = world.student.email
    export_request(user=world.student, expires_in_hours=1)
    invite, _ = invite_create(created_by=None, role="student", email=old_email)
    NotificationSettings.objects.create(user=world.student, email={"message": False})
    sent_at = timezone.now()
    OutgoingEmail.objects.create(
        key="sent-before", to=old_email, subject="Hi Sam", body="Your lesson", sent_at=sent_at
    )
    OutgoingEmail.objects.create(key="queued", to=old_email, subject="Hi", body="Soon")
    assert Notification.objects.filter(user=world.student).exists()
    mine, theirs = SessionStore(), SessionStore()
    mine[SESSION_KEY], theirs[SESSION_KEY] = str(world.student.pk), str(world.instructor.pk)
    mine.create()
    theirs.create()

    erase(api(world.student_token))
    assert not Notification.objects.filter(user=world.student).exists()
    assert not NotificationSettings.objects.filter(user=world.student).exists()
    assert not DataExport.objects.filter(owner=world.student).exists()
    assert not OutgoingEmail.objects.filter(to__iexact=old_email).exists()
    sent = OutgoingEmail.objects.get(key="sent-before")
    assert (sent.to, sent.subject, sent.body) == ("", "", "")
    assert not OutgoingEmail.objects.filter(key="queued").exists()
    keys = set(Session.objects.values_list("session_key", flat=True))
    assert mine.session_key not in keys and theirs.session_key in keys
    invite.refresh_from_db()
    assert invite.email == f"deleted-{world.student.pk}@erased.invalid"


def test_an_erased_instructor_can_no_longer_be_found_or_booked(api, world, token_for, make_user):
    erase(api(world.instructor_token))
    world.upcoming.refresh_from_db()
    assert (world.upcoming.status, world.upcoming.cancelled_by_id) == (
        "cancelled", world.instructor.pk,
    )  # fmt: skip
    someone = api(token_for(make_user("student")))
    assert someone.call("get", "/api/v1/instructors").json()["items"] == []
    service_id = world.upcoming.service_id
    body = {"service_id": service_id, "start": world.upcoming.start.isoformat(),
            "location_type": "online"}  # fmt: skip
    assert_error(someone.call("post", "/api/v1/bookings", body), 404, "not_found")
    student_side = api(world.student_token)
    (inbox,) = student_side.call("get", "/api/v1/conversations").json()["items"]
    assert inbox["instructor"]["name"] == "deleted user"
    assert inbox["last_message"]["body"] is None  # the instructor's words were last
    profile = world.instructor.instructor_profile
    profile.refresh_from_db()
    assert (profile.bio, profile.address) == ("", "")
    assert not profile.availability_rules.exists()


def test_erasing_twice_does_the_work_once(world):
    staff = User.objects.create_superuser(email="boss@example.com", password=PASSWORD, name="B")
    first, done = account_erase(user=world.student, password=PASSWORD)
    assert done
    again, done_again = account_erase(user=User.objects.get(pk=world.student.pk), by_staff=staff)
    assert (again.pk, done_again) == (first.pk, False)
    assert Erasure.objects.get().by_staff is None


def test_an_erasure_needs_the_password_or_a_staff_member(world):
    with pytest.raises(Unauthorized):
        account_erase(user=world.student)
    with pytest.raises(Forbidden):
        account_erase(user=world.student, by_staff=world.instructor)
    assert tasks.account_erase(world.student.pk, 999_999) is False  # no such staff member
    world.student.refresh_from_db()
    assert world.student.is_active and not Erasure.objects.exists()
