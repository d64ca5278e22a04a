"""The notifications REST paths: only the caller's own, cursor pages, marking read,
the unread count in /me, and e-mail preferences."""

import pytest
from django.db import transaction

from notifications.models import Kind, Notification
from notifications.services import notification_create
from tests.helpers import ApiClient, assert_error, events_on

pytestmark = pytest.mark.django_db

LIST = "/api/v1/notifications"
READ = "/api/v1/notifications/read"
SETTINGS = "/api/v1/me/notification-settings"


def notify(user, n: int, kind: str = Kind.BOOKING_CANCELLED) -> list[Notification]:
    return [notification_create(user=user, kind=kind, data={"n": i}) for i in range(n)]


def ids(response) -> list[int]:
    return [item["id"] for item in response.json()["items"]]


def walk(client: ApiClient, query: str) -> list[int]:
    """Every id of a list, page by page."""
    seen, cursor = [], ""
    while True:
        page = client.call("get", f"{LIST}?limit=2{query}{cursor}")
        assert page.status_code == 200, page.content
        seen += ids(page)
        if page.json()["next_cursor"] is None:
            return seen
        cursor = f"&cursor={page.json()['next_cursor']}"


def test_the_list_is_the_callers_own_newest_first_in_the_api_shape(as_student, student, instructor):
    mine = notify(student, 3)
    notify(instructor, 2)
    body = as_student.call("get", LIST).json()
    assert [item["id"] for item in body["items"]] == [n.pk for n in reversed(mine)]
    assert body["unread_count"] == 3 and body["next_cursor"] is None
    first = body["items"][0]
    assert set(first) == {"id", "kind", "data", "created_at", "read_at"}
    assert first["kind"] == "booking_cancelled" and first["data"] == {"n": 2}
    assert first["created_at"].endswith("Z") and first["read_at"] is None


def test_pages_by_time_and_unread_first_cover_everything_once(as_student, student):
    made = [n.pk for n in notify(student, 7)]
    as_student.call("post", READ, {"ids": [made[1], made[4], made[6]]})
    assert walk(as_student, "") == sorted(made, reverse=True)
    unread, read = [made[5], made[3], made[2], made[0]], [made[6], made[4], made[1]]
    assert walk(as_student, "&order=unread_first") == unread + read
    assert walk(as_student, "&unread=true") == unread
    assert walk(as_student, "&unread=false") == read


def test_marking_read_by_ids_or_up_to_an_id_and_others_ids_change_nothing(
    as_student, student, instructor
):
    mine = [n.pk for n in notify(student, 4)]
    theirs = notify(instructor, 1)[0]
    assert as_student.call("post", READ, {"ids": [mine[0], theirs.pk]}).status_code == 204
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert as_student.call("get", "/api/v1/me").json()["unread_notifications"] == 3
    assert as_student.call("post", READ, {"up_to": mine[2]}).status_code == 204
    assert ids(as_student.call("get", f"{LIST}?unread=true")) == [mine[3]]
    # Marking again changes nothing and is still fine.
    assert as_student.call("post", READ, {"up_to": mine[2]}).status_code == 204


@pytest.mark.parametrize(
    "body",
    [{}, {"ids": [1], "up_to": 1}, {"ids": []}, {"ids": [0]}, {"ids": ["1"]},
     {"up_to": -1}, {"ids": list(range(1, 202))}, {"up_to": "all"}],
)  # fmt: skip
def test_a_bad_read_body_is_a_422(as_student, body):
    assert_error(as_student.call("post", READ, body), 422, "invalid")


def test_forged_cursors_and_orders_are_422_and_no_token_is_401(as_student, api):
    for query in ("cursor=abc", "cursor=WzEsMl0", "order=unread_first&cursor=WzUsMV0",
                  "order=oldest", "limit=0", "unread=maybe"):  # fmt: skip
        assert_error(as_student.call("get", f"{LIST}?{query}"), 422, "invalid")
    for method, path in (("get", LIST), ("post", READ), ("get", SETTINGS), ("put", SETTINGS)):
        assert_error(api().call(method, path, {}), 401, "unauthorized")


def test_reading_pushes_the_new_unread_count_to_every_device(as_student, student):
    made = notify(student, 2)
    after = events_on(f"user:{student.pk}", notices=True)
    assert [t for t, _ in after] == ["notification.created", "notifications.unread"] * 2
    assert after[-1][1] == {"unread_count": 2}
    as_student.call("post", READ, {"ids": [made[0].pk]})
    assert events_on(f"user:{student.pk}", notices=True)[-1] == (
        "notifications.unread", {"unread_count": 1},
    )  # fmt: skip


def test_the_created_event_is_the_notification_as_the_list_returns_it(as_student, student):
    notify(student, 1)
    (_, data), _ = events_on(f"user:{student.pk}", notices=True)
    assert data == as_student.call("get", LIST).json()["items"][0]


def test_a_rolled_back_change_notifies_nobody(student):
    with pytest.raises(RuntimeError), transaction.atomic():
        notify(student, 1)
        raise RuntimeError("the change failed")
    assert not Notification.objects.exists()
    assert events_on(f"user:{student.pk}", notices=True) == []


def test_repeats_of_a_group_collapse_until_read(student, as_student):
    first = notification_create(user=student, kind=Kind.MESSAGE, data={}, group_key="c:1")
    assert notification_create(user=student, kind=Kind.MESSAGE, data={}, group_key="c:1") is None
    other = notification_create(user=student, kind=Kind.MESSAGE, data={}, group_key="c:2")
    assert first and other
    as_student.call("post", READ, {"ids": [first.pk]})
    assert notification_create(user=student, kind=Kind.MESSAGE, data={}, group_key="c:1")


def test_email_settings_default_on_change_per_kind_and_refuse_unknowns(as_student, student):
    assert as_student.call("get", SETTINGS).json() == {"email": {k: True for k in Kind.values}}
    changed = as_student.call("put", SETTINGS, {"email": {"message": False}})
    assert changed.status_code == 200
    assert changed.json()["email"]["message"] is False
    as_student.call("put", SETTINGS, {"email": {"lesson_reminder": False}})
    stored = as_student.call("get", SETTINGS).json()["email"]
    assert (stored["message"], stored["lesson_reminder"], stored["booking_cancelled"]) == (
        False, False, True,
    )  # fmt: skip
    spam = as_student.call("put", SETTINGS, {"email": {"spam": True}})
    error = assert_error(spam, 422, "invalid")
    assert "email.spam" in str(error["details"])
    for bad in ({"email": {"message": "false"}}, {"email": {"message": 0}}, {"email": []}, {}):
        assert_error(as_student.call("put", SETTINGS, bad), 422, "invalid")
    assert as_student.call("get", SETTINGS).json()["email"] == stored


def test_the_email_of_a_notification_follows_the_preference(student, as_student):
    from conventions.models import OutgoingEmail
    from notifications.services import Email

    email = Email(subject="s", body="b")
    notification_create(user=student, kind=Kind.BOOKING_CANCELLED, data={}, email=email)
    as_student.call("put", SETTINGS, {"email": {"booking_cancelled": False}})
    notification_create(user=student, kind=Kind.BOOKING_CANCELLED, data={}, email=email)
    assert OutgoingEmail.objects.filter(to=student.email).count() == 1
    assert Notification.objects.filter(user=student).count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_last_unread_count_pushed_is_the_true_one_when_reads_and_news_race(student):
    from tests.helpers import race

    notify(student, 5)

    def create():
        notification_create(user=student, kind=Kind.MESSAGE, data={})

    def read_all():
        from notifications.services import notifications_read

        notifications_read(user=student, up_to=2**62)

    race([create, read_all] * 4)
    pushed = [d for t, d in events_on(f"user:{student.pk}", notices=True)
              if t == "notifications.unread"]  # fmt: skip
    unread = Notification.objects.filter(user=student, read_at__isnull=True).count()
    assert pushed[-1] == {"unread_count": unread}


def test_a_closed_account_is_left_no_notification(student):
    student.is_active = False
    student.save(update_fields=["is_active"])
    assert notification_create(user=student, kind=Kind.BOOKING_CANCELLED, data={}) is None
    assert not Notification.objects.exists()
    assert events_on(f"user:{student.pk}", notices=True) == []
