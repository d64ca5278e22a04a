"""`GET /api/v1/credits`: the caller's balances and ledger, newest first, and no one else's."""

import pytest

from payments import services
from payments.models import CreditEntry, CreditReason
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db


def grant(user, cents, currency="EUR", reference="", reason=CreditReason.STAFF_GRANT, note=""):
    return services.credit_grant(
        user_id=user.pk,
        currency=currency,
        amount_cents=cents,
        reason=reason,
        reference=reference,
        note=note,
    )


def test_a_new_user_has_no_credit(as_student):
    response = as_student.call("get", "/api/v1/credits")
    assert response.status_code == 200
    assert response.json() == {"balances": [], "items": [], "next_cursor": None}


def test_balances_per_currency_and_entries_newest_first(as_student, student):
    grant(student, 1500, note="Sorry for the noise")
    grant(student, 700, currency="usd")
    services.credit_spend(
        user_id=student.pk, currency="EUR", up_to_cents=1000, reference="booking-7"
    )
    body = as_student.call("get", "/api/v1/credits").json()
    assert body["balances"] == [
        {"currency": "EUR", "amount_cents": 500},
        {"currency": "USD", "amount_cents": 700},
    ]
    assert [(i["amount_cents"], i["currency"], i["reason"]) for i in body["items"]] == [
        (-1000, "EUR", "spent"),
        (700, "USD", "staff_grant"),
        (1500, "EUR", "staff_grant"),
    ]
    first = body["items"][-1]
    assert set(first) == {
        "id",
        "currency",
        "amount_cents",
        "reason",
        "reference",
        "note",
        "created_at",
    }
    assert first["note"] == "Sorry for the noise" and first["created_at"].endswith("Z")
    assert body["items"][0]["reference"] == "booking-7"
    assert body["next_cursor"] is None


def test_pages_follow_the_cursor_without_gaps_or_repeats(as_student, student):
    made = [grant(student, n + 1).pk for n in range(7)]
    seen, cursor = [], None
    while True:
        query = "?limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = as_student.call("get", f"/api/v1/credits{query}").json()
        assert len(body["items"]) <= 3
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(made, reverse=True)


def test_entries_made_in_the_same_instant_page_by_id(as_student, student):
    """Entries of one transaction share created_at: the id breaks the tie."""
    made = [grant(student, n + 1).pk for n in range(4)]
    CreditEntry.objects.filter(pk__in=made).update(
        created_at=CreditEntry.objects.get(pk=made[0]).created_at
    )
    first = as_student.call("get", "/api/v1/credits?limit=2").json()
    second = as_student.call("get", f"/api/v1/credits?limit=2&cursor={first['next_cursor']}").json()
    assert [i["id"] for i in first["items"] + second["items"]] == sorted(made, reverse=True)


def test_a_user_never_sees_another_users_credit(api, token_for, student, make_user):
    other = make_user("student")
    grant(other, 9900, reference="secret")
    grant(student, 100)
    body = api(token_for(student)).call("get", "/api/v1/credits").json()
    assert body["balances"] == [{"currency": "EUR", "amount_cents": 100}]
    assert [i["amount_cents"] for i in body["items"]] == [100]
    # Not even through a cursor that points into the other user's entries.
    from conventions.pagination import moment_cursor_encode

    theirs = CreditEntry.objects.get(user=other)
    forged = moment_cursor_encode(theirs.created_at.replace(year=2100), theirs.pk + 1)
    paged = api(token_for(student)).call("get", f"/api/v1/credits?cursor={forged}").json()
    assert [i["amount_cents"] for i in paged["items"]] == [100]


@pytest.mark.parametrize("limit", ["0", "201", "-1", "x"])
def test_a_limit_out_of_range_is_422(as_student, limit):
    assert_error(as_student.call("get", f"/api/v1/credits?limit={limit}"), 422, "invalid")


def test_at_most_two_hundred_per_page(as_student, student):
    CreditEntry.objects.bulk_create(
        CreditEntry(user=student, currency="EUR", amount_cents=1, reason="staff_grant")
        for _ in range(205)
    )
    body = as_student.call("get", "/api/v1/credits?limit=200").json()
    assert len(body["items"]) == 200 and body["next_cursor"]
    assert body["balances"] == [{"currency": "EUR", "amount_cents": 205}]
    assert len(as_student.call("get", "/api/v1/credits").json()["items"]) == 50
