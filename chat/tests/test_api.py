"""Chat over REST: every path of api.md and every bad input."""

import pytest
from django.db import connection

from chat.models import Conversation, Message
from chat.services import message_send
from tests.helpers import assert_error, events_on, last_seq, place_booking

pytestmark = pytest.mark.django_db


def send(client, conversation_id, body="hello", client_id="c-1"):
    return client.call(
        "post",
        f"/api/v1/conversations/{conversation_id}/messages",
        {"body": body, "client_id": client_id},
    )


def test_a_pair_has_one_conversation(as_student, as_instructor, student, instructor):
    first = as_student.call("post", "/api/v1/conversations", {"participant_id": instructor.pk})
    assert first.status_code == 201
    body = first.json()
    assert body["student"] == {"id": student.pk, "name": student.name}
    assert body["instructor"] == {"id": instructor.pk, "name": instructor.name}
    assert (body["unread_count"], body["last_message"], body["bookings"]) == (0, None, [])
    again = as_student.call("post", "/api/v1/conversations", {"participant_id": instructor.pk})
    assert (again.status_code, again.json()["id"]) == (200, body["id"])
    back = as_instructor.call("post", "/api/v1/conversations", {"participant_id": student.pk})
    assert (back.status_code, back.json()["id"]) == (200, body["id"])
    assert Conversation.objects.count() == 1


def test_who_may_talk_to_whom(as_student, as_instructor, make_user, api, token_for):
    another_student = make_user("student")
    not_found = {"participant_id": 999_999}
    for client, body in [
        (as_student, {"participant_id": another_student.pk}),  # same role
        (as_student, not_found),
        # An instructor may not probe for students who never booked or wrote to them.
        (as_instructor, {"participant_id": another_student.pk}),
    ]:
        assert_error(client.call("post", "/api/v1/conversations", body), 404, "not_found")
    admin = api(token_for(make_user("admin")))
    assert_error(admin.call("post", "/api/v1/conversations", not_found), 403, "forbidden")
    bad = as_student.call("post", "/api/v1/conversations", {"participant_id": "x"})
    assert_error(bad, 422, "invalid")


def test_an_instructor_may_write_first_to_a_student_who_booked(
    as_instructor, instructor, make_user
):
    from datetime import timedelta

    from django.utils import timezone

    from bookings.services import service_create

    booked = make_user("student")
    service = service_create(instructor=instructor, name="X", duration_minutes=60,
                             price_cents=1, currency="EUR", location_types=["online"])  # fmt: skip
    place_booking(service, booked, timezone.now() + timedelta(days=3))
    response = as_instructor.call("post", "/api/v1/conversations", {"participant_id": booked.pk})
    assert response.status_code == 201
    (lesson,) = response.json()["bookings"]
    assert lesson["status"] == "confirmed" and lesson["service"] == "X"


def test_send_stores_and_tells_both_sides(as_student, student, instructor, conversation):
    response = send(as_student, conversation.pk, body="  Hi there  ")
    assert response.status_code == 201
    message = response.json()
    assert message == {
        "id": message["id"],
        "conversation_id": conversation.pk,
        "sender_id": student.pk,
        "body": "Hi there",
        "client_id": "c-1",
        "created_at": message["created_at"],
        "edited_at": None,
        "deleted": False,
    }
    assert events_on(f"conversation:{conversation.pk}") == [("message.created", message)]
    ((kind, inbox),) = events_on(f"user:{instructor.pk}")
    assert kind == "conversation.updated"
    assert (inbox["id"], inbox["unread_count"], inbox["last_message"]) == (
        conversation.pk, 1, message,
    )  # fmt: skip
    assert events_on(f"user:{student.pk}") == []  # the sender's inbox needs no nudge


def test_a_repeated_client_id_returns_the_stored_message_and_emits_nothing(
    as_student, conversation
):
    first = send(as_student, conversation.pk, body="once")
    seq = last_seq(f"conversation:{conversation.pk}")
    again = send(as_student, conversation.pk, body="once")
    assert again.status_code == 200 and again.json() == first.json()
    assert Message.objects.count() == 1
    assert last_seq(f"conversation:{conversation.pk}") == seq


@pytest.mark.parametrize(
    "body, field",
    [
        ({"body": "", "client_id": "a"}, "body"),
        ({"body": "   \n ", "client_id": "a"}, "body"),
        ({"body": "x" * 4001, "client_id": "a"}, "body"),
        ({"body": "hi"}, "client_id"),
        ({"body": "hi", "client_id": ""}, "client_id"),
        ({"body": "hi", "client_id": "x" * 65}, "client_id"),
        ({"client_id": "a"}, "body"),
    ],
)
def test_bad_messages_are_refused_and_not_stored(as_student, conversation, body, field):
    response = as_student.call("post", f"/api/v1/conversations/{conversation.pk}/messages", body)
    assert field in assert_error(response, 422, "invalid")["details"]
    assert Message.objects.count() == 0


def test_4000_characters_after_trimming_is_the_limit(as_student, conversation):
    assert send(as_student, conversation.pk, body=" " + "x" * 4000 + " ").status_code == 201


def test_outsiders_cannot_tell_a_conversation_exists(api, token_for, make_user, conversation):
    outsider = api(token_for(make_user("student")))
    paths = [
        ("get", "/api/v1/conversations/{}", None),
        ("get", "/api/v1/conversations/{}/messages", None),
        ("post", "/api/v1/conversations/{}/messages", {"body": "x", "client_id": "y"}),
        ("post", "/api/v1/conversations/{}/read", {"message_id": 1}),
    ]
    for method, path, body in paths:
        real = outsider.call(method, path.format(conversation.pk), body)
        missing = outsider.call(method, path.format(999_999), body)
        assert_error(real, 404, "not_found")
        assert real.json() == missing.json()


def test_history_pages_newest_first(as_student, student, conversation):
    ids = [message_send(user=student, conversation_id=conversation.pk, body=f"m{n}",
                        client_id=f"c{n}")[0].pk for n in range(5)]  # fmt: skip
    path = f"/api/v1/conversations/{conversation.pk}/messages"
    page = as_student.call("get", f"{path}?limit=2").json()
    assert [m["id"] for m in page["items"]] == ids[:-3:-1] and page["has_more"]
    page = as_student.call("get", f"{path}?limit=2&before={ids[3]}").json()
    assert [m["id"] for m in page["items"]] == [ids[2], ids[1]] and page["has_more"]
    page = as_student.call("get", f"{path}?limit=2&before={ids[1]}").json()
    assert [m["id"] for m in page["items"]] == [ids[0]] and not page["has_more"]
    assert_error(as_student.call("get", f"{path}?limit=0"), 422, "invalid")
    assert_error(as_student.call("get", f"{path}?before=abc"), 422, "invalid")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="reads PostgreSQL's plan")
def test_history_pages_walk_the_index_without_sorting(student, conversation):
    """The selector's page query is an index range scan in id order: its cost does not grow
    with the conversation (the bench measures it on 100,000 messages)."""
    from django.test.utils import CaptureQueriesContext

    from chat.selectors import message_history

    message_send(user=student, conversation_id=conversation.pk, body="x", client_id="x")
    with CaptureQueriesContext(connection) as ran:
        message_history(user=student, conversation_id=conversation.pk, before=10**9, limit=50)
    (page_sql,) = [q["sql"] for q in ran.captured_queries if 'FROM "chat_message"' in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + page_sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "message_history" in plan and "Sort" not in plan, plan


def test_edit_and_delete_by_the_author_only(as_student, as_instructor, conversation):
    message = send(as_student, conversation.pk).json()
    path = f"/api/v1/conversations/{conversation.pk}/messages/{message['id']}"
    assert_error(as_instructor.call("patch", path, {"body": "mine now"}), 403, "forbidden")
    assert_error(as_instructor.call("delete", path), 403, "forbidden")
    assert_error(as_student.call("patch", path, {"body": " "}), 422, "invalid")
    edited = as_student.call("patch", path, {"body": "hello, edited"}).json()
    assert edited["body"] == "hello, edited" and edited["edited_at"]
    deleted = as_student.call("delete", path).json()
    assert (deleted["deleted"], deleted["body"]) == (True, None)
    assert Message.objects.get().body == ""  # the text is really gone
    assert_error(as_student.call("patch", path, {"body": "again"}), 409, "conflict")
    types = [t for t, _ in events_on(f"conversation:{conversation.pk}")]
    assert types == ["message.created", "message.edited", "message.deleted"]
    history = as_instructor.call("get", f"/api/v1/conversations/{conversation.pk}/messages")
    assert history.json()["items"] == [deleted]
    missing = f"/api/v1/conversations/{conversation.pk}/messages/999999"
    assert_error(as_student.call("delete", missing), 404, "not_found")


def test_a_message_id_from_another_conversation_is_not_found(
    as_student, student, conversation, make_user
):
    other_instructor = make_user("instructor")
    from chat.services import conversation_open

    other = conversation_open(user=student, participant_id=other_instructor.pk)[0]
    elsewhere = send(as_student, other.pk).json()["id"]
    path = f"/api/v1/conversations/{conversation.pk}/messages/{elsewhere}"
    assert_error(as_student.call("patch", path, {"body": "x"}), 404, "not_found")
    read = {"message_id": elsewhere}
    response = as_student.call("post", f"/api/v1/conversations/{conversation.pk}/read", read)
    assert_error(response, 404, "not_found")


def test_read_marker_moves_forward_only_and_unread_counts_follow(
    as_student, as_instructor, student, instructor, conversation
):
    ids = [send(as_student, conversation.pk, client_id=f"c{n}").json()["id"] for n in range(3)]
    inbox = as_instructor.call("get", "/api/v1/conversations").json()
    assert inbox["unread_total"] == 3 and inbox["items"][0]["unread_count"] == 3
    path = f"/api/v1/conversations/{conversation.pk}/read"
    seq = last_seq(f"conversation:{conversation.pk}")
    assert as_instructor.call("post", path, {"message_id": ids[1]}).json() == {
        "last_read_message_id": ids[1]
    }
    assert as_instructor.call("post", path, {"message_id": ids[0]}).json() == {
        "last_read_message_id": ids[1]
    }
    assert events_on(f"conversation:{conversation.pk}", seq) == [
        ("read", {"user_id": instructor.pk, "message_id": ids[1]})
    ]
    # The reader's own inbox (other tabs, other devices) is told the new count.
    kind, data = events_on(f"user:{instructor.pk}")[-1]
    assert (kind, data["unread_count"]) == ("conversation.updated", 1)
    assert as_instructor.call("get", "/api/v1/conversations").json()["unread_total"] == 1
    # A deleted message is not unread; one's own messages never are.
    as_student.call("delete", f"/api/v1/conversations/{conversation.pk}/messages/{ids[2]}")
    assert as_instructor.call("get", "/api/v1/conversations").json()["unread_total"] == 0
    assert as_student.call("get", "/api/v1/conversations").json()["unread_total"] == 0


def test_conversations_list_newest_activity_first_with_cursor(as_student, student, make_user):
    from chat.services import conversation_open

    opened = [conversation_open(user=student, participant_id=make_user("instructor").pk)[0]
              for _ in range(3)]  # fmt: skip
    send(as_student, opened[0].pk)  # the oldest conversation becomes the most recent
    first = as_student.call("get", "/api/v1/conversations?limit=2").json()
    assert [c["id"] for c in first["items"]] == [opened[0].pk, opened[2].pk]
    rest = as_student.call("get", f"/api/v1/conversations?limit=2&cursor={first['next_cursor']}")
    assert [c["id"] for c in rest.json()["items"]] == [opened[1].pk]
    assert rest.json()["next_cursor"] is None
    assert_error(as_student.call("get", "/api/v1/conversations?cursor=xyz"), 422, "invalid")


def test_rate_limit_refuses_the_eleventh_of_a_burst_and_stores_nothing(
    as_student, conversation, settings
):
    settings.CHAT_MESSAGE_RATE_PER_MINUTE = 6  # slow enough that the burst cannot refill
    for n in range(10):
        assert send(as_student, conversation.pk, client_id=f"b{n}").status_code == 201
    refused = send(as_student, conversation.pk, client_id="b10")
    assert_error(refused, 429, "rate_limited")
    assert 1 <= int(refused["Retry-After"]) <= 11
    assert Message.objects.count() == 10
    # Repeats and invalid sends spend no token and are answered as usual.
    assert send(as_student, conversation.pk, client_id="b3").status_code == 200
    assert_error(send(as_student, conversation.pk, body="", client_id="z"), 422, "invalid")
    import time

    settings.CHAT_MESSAGE_RATE_PER_MINUTE = 600  # an operator raises the rate: ten a second
    time.sleep(0.25)  # two tokens come back
    assert send(as_student, conversation.pk, client_id="b10").status_code == 201


def test_kept_unread_counts_always_match_a_fresh_count(student, instructor, conversation, settings):
    """Sends, reads and deletes from both sides, in a fixed shuffle: after each step the
    counter kept on each participant equals a count of the messages themselves."""
    import random

    from chat.models import Participant
    from chat.selectors import unread_count
    from chat.services import message_delete, read_mark

    settings.CHAT_MESSAGE_BURST = 100  # the rate limit is not what this is about
    people = [student, instructor]
    sent: dict[int, list[int]] = {student.pk: [], instructor.pk: []}
    shuffle = random.Random(7)
    for step in range(60):
        who = shuffle.choice(people)
        other = instructor if who == student else student
        action = shuffle.choice(["send", "send", "send", "read", "delete"])
        if action == "send":
            message, _ = message_send(
                user=who, conversation_id=conversation.pk, body="x", client_id=f"k{step}"
            )
            sent[who.pk].append(message.pk)
        elif action == "read" and sent[other.pk]:
            read_mark(user=who, conversation_id=conversation.pk,
                      message_id=shuffle.choice(sent[other.pk]))  # fmt: skip
        elif action == "delete" and sent[who.pk]:
            message_id = sent[who.pk].pop(shuffle.randrange(len(sent[who.pk])))
            message_delete(user=who, conversation_id=conversation.pk, message_id=message_id)
        for participant in Participant.objects.filter(conversation=conversation):
            fresh = unread_count(
                conversation_id=conversation.pk,
                user_id=participant.user_id,
                last_read_message_id=participant.last_read_message_id,
            )
            assert participant.unread_count == fresh, (step, action)


def test_an_inbox_page_costs_the_same_queries_however_long(
    as_student, student, make_user, django_assert_max_num_queries, settings
):
    from chat.services import conversation_open

    settings.CHAT_MESSAGE_BURST = 100

    for _ in range(12):
        conversation = conversation_open(user=student, participant_id=make_user("instructor").pk)[0]
        message_send(user=student, conversation_id=conversation.pk, body="hi", client_id="x")
    with django_assert_max_num_queries(6):  # auth, token touch, places, lessons, total
        page = as_student.call("get", "/api/v1/conversations?limit=12").json()
    assert len(page["items"]) == 12 and page["unread_total"] == 0
