"""Who may do what: every REST endpoint (read from the OpenAPI document, so a new endpoint
without a row fails) against every kind of caller, and the live topic families.

Callers: no token, a bad token, the student S and instructor I of a booking and a
conversation, another student S2, another instructor I2, and an admin A (role admin).
Another user's booking, conversation, message or token answers exactly like a missing
id (same status, same body); the wrong role is 403; admins get no special access to
other people's objects over the API.
"""

from datetime import time, timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from accounts.models import User
from accounts.services import token_create
from bookings import services as booking_services
from chat.services import conversation_open, message_send
from notifications.models import Notification
from payments.models import CreditReason, PayoutAccount
from payments.services import credit_grant
from privacy.services import export_request
from tests.helpers import PASSWORD, assert_error, next_free_start

MISSING = 999_999
OPEN_ENDPOINTS = {
    ("POST", "/api/v1/auth/register"),
    ("POST", "/api/v1/auth/token"),
    # Stripe's: its signature is the proof, a token is neither needed nor enough.
    ("POST", "/api/v1/payments/stripe/webhook"),
}
CALLERS = ("S", "I", "S2", "I2", "A")
OUTSIDERS = ("S2", "I2", "A")
EVERYONE_OK = dict.fromkeys(CALLERS, 200)


def row(method, path, expect, body=None, obj=False, hides=None):
    """One endpoint. `expect` maps caller to status, in the order the callers go (mutating
    rows put the allowed callers last). `obj`: the path names objects, so each 404 is also
    compared with the answer for missing ids. `hides`: a key in the ids whose object must
    not appear in a 404-free list answered to an outsider."""
    return {"method": method, "path": path, "expect": expect, "body": body, "obj": obj,
            "hides": hides}  # fmt: skip


def hidden(**allowed):
    """Outsiders first (404 like a missing id), then the allowed callers."""
    return {**dict.fromkeys(OUTSIDERS, 404), **allowed}


INSTRUCTOR_ONLY = {"S": 403, "S2": 403, "A": 403, "I": 200, "I2": 200}


def rows(ctx):
    """The matrix, in the order it runs. `ctx` holds the objects and a body factory helper."""
    later = (timezone.localdate() + timedelta(days=30)).isoformat()
    rules = [{"weekday": d, "start": "07:00", "end": "21:00"} for d in range(7)]
    service_body = {"name": "Cello", "duration_minutes": 60, "price_cents": 100,
                    "currency": "EUR", "location_types": ["online"]}  # fmt: skip
    return [
        # accounts
        row("POST", "/api/v1/auth/register", dict.fromkeys(CALLERS, 201),
            body=lambda who: {"email": f"new-{who.lower()}@example.com", "password": PASSWORD,
                              "name": "New", "role": "student", "timezone": "UTC"}),
        row("POST", "/api/v1/auth/token", EVERYONE_OK,
            body=lambda who: {"email": ctx["users"][who].email, "password": PASSWORD}),
        row("GET", "/api/v1/me", EVERYONE_OK),
        row("GET", "/api/v1/auth/tokens", EVERYONE_OK, hides="token_id"),
        row("DELETE", "/api/v1/auth/tokens/{token_id}", hidden(I=404, S=204), obj=True),
        row("POST", "/api/v1/auth/logout", dict.fromkeys(CALLERS, 204)),
        row("DELETE", "/api/v1/auth/token", dict.fromkeys(CALLERS, 204)),
        # Staff only: the admin creates invites, everyone else is refused.
        row("POST", "/api/v1/invites", {"S": 403, "I": 403, "S2": 403, "I2": 403, "A": 201},
            body={"role": "student"}),
        # instructors and their calendars
        row("GET", "/api/v1/instructors", EVERYONE_OK),
        row("GET", "/api/v1/instructors/{instructor_id}", EVERYONE_OK),
        row("GET", "/api/v1/instructors/{instructor_id}/slots", EVERYONE_OK,
            obj=False),
        row("GET", "/api/v1/instructors/me", INSTRUCTOR_ONLY),
        row("PATCH", "/api/v1/instructors/me", INSTRUCTOR_ONLY, body={"bio": "Hello"}),
        row("POST", "/api/v1/instructors/me/services", {**INSTRUCTOR_ONLY, "I": 201, "I2": 201},
            body=service_body),
        row("GET", "/api/v1/instructors/me/availability", INSTRUCTOR_ONLY),
        row("PUT", "/api/v1/instructors/me/availability", INSTRUCTOR_ONLY,
            body={"timezone": "UTC", "rules": rules}),
        row("PUT", f"/api/v1/instructors/me/availability/overrides/{later}", INSTRUCTOR_ONLY,
            body={"intervals": []}),
        row("DELETE", f"/api/v1/instructors/me/availability/overrides/{later}",
            {**INSTRUCTOR_ONLY, "I": 204, "I2": 204}),
        # bookings
        row("POST", "/api/v1/bookings", {"I": 403, "I2": 403, "A": 403, "S": 201, "S2": 201},
            body=lambda who: {"service_id": ctx["service"].pk, "location_type": "online",
                              "start": next_free_start(ctx["service"]).isoformat()}),
        row("GET", "/api/v1/bookings", EVERYONE_OK, hides="booking_id"),
        row("GET", "/api/v1/bookings/{booking_id}", hidden(S=200, I=200), obj=True),
        row("POST", "/api/v1/bookings/{booking_id}/reschedule", hidden(S=200, I=200), obj=True,
            body=lambda who: {"start": next_free_start(ctx["service"]).isoformat()}),
        # Only the instructor may; the lesson has not started, so the instructor gets 409.
        row("POST", "/api/v1/bookings/{booking_id}/no-show", hidden(S=403, I=409), obj=True),
        # The first participant cancels; the second finds it cancelled (409, not 404).
        row("POST", "/api/v1/bookings/{booking_id}/cancel", hidden(I=200, S=409), obj=True,
            body={"reason": "Ill"}),
        # payments: everyone's own credit (S's entry never shows to anyone else); only
        # instructors onboard for payouts, each to their own account
        row("GET", "/api/v1/credits", EVERYONE_OK, hides="credit_entry_id"),
        row("POST", "/api/v1/instructors/me/payouts/onboarding", INSTRUCTOR_ONLY),
        # chat
        row("GET", "/api/v1/conversations", EVERYONE_OK, hides="conversation_id"),
        row("GET", "/api/v1/conversations/{conversation_id}", hidden(S=200, I=200), obj=True),
        row("GET", "/api/v1/conversations/{conversation_id}/messages", hidden(S=200, I=200),
            obj=True),
        row("POST", "/api/v1/conversations/{conversation_id}/messages", hidden(S=201, I=201),
            obj=True, body=lambda who: {"body": "hi", "client_id": f"from-{who}"}),
        row("POST", "/api/v1/conversations/{conversation_id}/read", hidden(S=200, I=200),
            obj=True, body={"message_id": ctx["ids"]["message_id"]}),
        # Only the author (S) may change a message; the other participant gets 403.
        row("PATCH", "/api/v1/conversations/{conversation_id}/messages/{message_id}",
            hidden(I=403, S=200), obj=True, body={"body": "edited"}),
        row("DELETE", "/api/v1/conversations/{conversation_id}/messages/{message_id}",
            hidden(I=403, S=200), obj=True),
        # Students may open one with any instructor (S2 a new one with I), instructors only
        # with students who booked them (I2 and S: 404), admins have none (403).
        row("POST", "/api/v1/conversations", {"A": 403, "I2": 404, "S": 200, "I": 200, "S2": 201},
            body=lambda who: {"participant_id": ctx["partner"][who].pk}),
        # notifications: each caller's own; I's (of S's message) shows to nobody else, and
        # marking it read is ignored for anyone but I.
        row("GET", "/api/v1/notifications", EVERYONE_OK, hides="notification_id"),
        row("POST", "/api/v1/notifications/read", dict.fromkeys(CALLERS, 204),
            body={"ids": [ctx["ids"]["notification_id"]]}),
        row("GET", "/api/v1/me/notification-settings", EVERYONE_OK),
        row("PUT", "/api/v1/me/notification-settings", EVERYONE_OK,
            body={"email": {"message": True}}),
        # privacy: everyone asks for their own export (S's is being built: the same one);
        # only its owner reads it; a wrong password erases nothing (401, for staff too).
        row("POST", "/api/v1/me/export", dict.fromkeys(CALLERS, 202)),
        row("GET", "/api/v1/me/exports/{export_id}", hidden(I=404, S=200), obj=True),
        row("POST", "/api/v1/me/erase", dict.fromkeys(CALLERS, 401),
            body={"password": "not-the-password"}),
        # payments: a token is no signature (payments/tests/test_webhooks.py signs).
        row("POST", "/api/v1/payments/stripe/webhook", dict.fromkeys(CALLERS, 400),
            body={"id": "evt_1", "type": "x", "data": {"object": {}}}),
        # Only the owner (I) changes or retires a service; I2 finds none (404). Late: the
        # retired service is no longer booked by the rows above.
        row("PATCH", "/api/v1/instructors/me/services/{service_id}",
            {"S": 403, "S2": 403, "A": 403, "I2": 404, "I": 200}, obj=True,
            body={"price_cents": 5000}),
        row("DELETE", "/api/v1/instructors/me/services/{service_id}",
            {"S": 403, "S2": 403, "A": 403, "I2": 404, "I": 204}, obj=True),
        # Last: it changes every caller's password.
        row("POST", "/api/v1/auth/password", dict.fromkeys(CALLERS, 204),
            body={"current_password": PASSWORD, "new_password": "another-long-pass-42"}),
    ]  # fmt: skip


def query_for(path: str, ctx) -> str:
    if path.endswith("/slots"):
        day = timezone.localdate() + timedelta(days=2)
        return f"?service_id={ctx['service'].pk}&start={day}&end={day}&tz=UTC"
    return ""


def callers(make_user) -> dict[str, User]:
    """The owner-side pair (S, I), another student and instructor, and an admin."""
    return {
        "S": make_user("student"),
        "I": make_user("instructor"),
        "S2": make_user("student"),
        "I2": make_user("instructor"),
        "A": User.objects.create_superuser(email="admin@example.com", password=PASSWORD, name="A"),
    }


@pytest.fixture
def world(make_user):
    users = callers(make_user)
    assert users["A"].role == "admin"
    service = booking_services.service_create(
        instructor=users["I"], name="Piano", duration_minutes=60, price_cents=4500,
        currency="eur", location_types=["online"], min_notice_minutes=0,
    )  # fmt: skip
    booking_services.availability_replace(
        instructor=users["I"], timezone="UTC", rules=[(d, time(7), time(21)) for d in range(7)]
    )
    booking, _ = booking_services.booking_create(
        student=users["S"], service_id=service.pk, start=next_free_start(service),
        location_type="online",
    )  # fmt: skip
    conversation, _ = conversation_open(user=users["S"], participant_id=users["I"].pk)
    message, _ = message_send(
        user=users["S"], conversation_id=conversation.pk, body="hello", client_id="m1"
    )
    ids = {
        "booking_id": booking.pk,
        "conversation_id": conversation.pk,
        "message_id": message.pk,
        "token_id": token_create(user=users["S"])[0].pk,
        "instructor_id": users["I"].pk,
        "service_id": service.pk,
        "notification_id": Notification.objects.get(user=users["I"], kind="message").pk,
        "export_id": export_request(user=users["S"], expires_in_hours=1)[0].pk,
        "credit_entry_id": credit_grant(
            user_id=users["S"].pk, currency="EUR", amount_cents=500, reason=CreditReason.STAFF_GRANT
        ).pk,
    }
    partner = {"S": users["I"], "I": users["S"], "S2": users["I"], "I2": users["S"],
               "A": users["I"]}  # fmt: skip
    return {"users": users, "service": service, "ids": ids, "partner": partner}


def openapi_operations(api) -> dict[tuple[str, str], bool]:
    """(METHOD, path) of every operation, and whether it asks for a token."""
    document = api().call("get", "/api/v1/openapi.json").json()
    return {
        (method.upper(), path): bool(operation.get("security"))
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }


def template(path: str) -> str:
    """A row's concrete override date back to the OpenAPI placeholder."""
    if "/overrides/" in path:
        return path.rsplit("/", 1)[0] + "/{day}"
    return path


@pytest.mark.django_db
def test_every_endpoint_answers_every_kind_of_caller_as_it_should(api, world):
    matrix = rows(world)
    operations = openapi_operations(api)
    covered = [(r["method"], template(r["path"])) for r in matrix]
    assert len(covered) == len(set(covered))
    assert set(covered) == set(operations), "every endpoint needs exactly one row"
    assert {op for op, secured in operations.items() if not secured} == OPEN_ENDPOINTS

    ids = world["ids"]
    missing_ids = dict.fromkeys(ids, MISSING)
    failures = []

    def call(r, who, token, path_ids):
        path = r["path"].format(**path_ids) + query_for(r["path"], world)
        body = r["body"](who) if callable(r["body"]) else r["body"]
        return api(token).call(r["method"].lower(), path, body)

    for r in matrix:
        key = (r["method"], template(r["path"]))
        if key not in OPEN_ENDPOINTS:
            for token in (None, "hub_not-a-real-token"):
                answer = call(r, "S", token, ids)
                assert_error(answer, 401, "unauthorized")
        for who, status in r["expect"].items():
            token = token_create(user=world["users"][who])[1]
            answer = call(r, who, token, ids)
            if answer.status_code != status:
                failures.append((key, who, status, answer.status_code, answer.content[:200]))
                continue
            if status == 403:
                assert_error(answer, 403, "forbidden")
            if status == 404:
                assert_error(answer, 404, "not_found")
                if r["obj"]:
                    absent = call(r, who, token, missing_ids)
                    assert (absent.status_code, absent.json()) == (404, answer.json()), key
            if r["hides"] and who in OUTSIDERS:
                listed = [item["id"] for item in answer.json()["items"]]
                assert ids[r["hides"]] not in listed, (key, who)
    assert not failures, "\n".join(map(repr, failures))
    # Each instructor onboarded to an account of their own, and never saw another's.
    accounts = dict(PayoutAccount.objects.values_list("user_id", "account_id"))
    assert set(accounts) == {world["users"]["I"].pk, world["users"]["I2"].pk}
    assert len(set(accounts.values())) == 2


# --- the live topic families ----------------------------------------------------------


@database_sync_to_async
def socket_world(make_user):
    users = callers(make_user)
    booking_services.instructor_profile_ensure(user=users["I"])
    mine, _ = conversation_open(user=users["S"], participant_id=users["I"].pk)
    theirs, _ = conversation_open(user=users["S2"], participant_id=users["I2"].pk)
    tokens = {who: token_create(user=user)[1] for who, user in users.items()}
    return users, mine.pk, theirs.pk, tokens


@pytest.mark.django_db(transaction=True)
async def test_topic_families_admit_exactly_who_they_should(connect, make_user):
    users, mine, theirs, tokens = await socket_world(make_user)
    s, i = users["S"].pk, users["I"].pk
    # topic -> the callers who may subscribe (everyone else: forbidden)
    topics = {
        f"user:{s}": {"S"},
        f"user:{i}": {"I"},
        f"user:{MISSING}": set(),
        f"conversation:{mine}": {"S", "I"},
        f"conversation:{theirs}": {"S2", "I2"},
        f"conversation:{MISSING}": set(),
        f"availability:{i}": set(CALLERS),
        # What the code does: a topic for an id that is no instructor is refused.
        f"availability:{MISSING}": set(),
    }
    wrong = []
    for who in CALLERS:
        client = await connect(tokens[who])
        for topic, allowed in topics.items():
            reply = await client.call("subscribe", topic=topic)
            got = "ok" if reply["ok"] else reply["error"]["code"]
            if got != ("ok" if who in allowed else "forbidden"):
                wrong.append((who, topic, got))
        # Publishing needs the right to subscribe: an outsider's send to a real
        # conversation is refused exactly like one to a missing conversation.
        if who in OUTSIDERS:
            for topic in (f"conversation:{mine}", f"conversation:{MISSING}"):
                sent = await client.call("publish", topic=topic, type="message.send",
                                         data={"body": "hi", "client_id": "x"})  # fmt: skip
                if sent["ok"] or sent["error"]["code"] != "forbidden":
                    wrong.append((who, f"publish {topic}", sent))
    assert not wrong, wrong

    anonymous = await connect()
    for topic in topics:
        reply = await anonymous.call("subscribe", topic=topic)
        assert reply["error"]["code"] == "unauthorized", (topic, reply)
