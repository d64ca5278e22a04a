"""Data exports over REST: asking, waiting, the archive's content, who may read it, expiry.

These tests build the export by calling the task's service in process (in a test
transaction the task is never queued); test_export_worker.py runs it on a real worker.
"""

import json
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from conventions.errors import Invalid
from notifications.models import Notification
from privacy import services, tasks
from privacy.models import DataExport, Erasure
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db

ASK = "/api/v1/me/export"


def download(path_id) -> str:
    return f"/api/v1/me/exports/{path_id}"


def asked(client) -> dict:
    response = client.call("post", ASK)
    assert response.status_code == 202, response.content
    return response.json()


def test_asking_again_while_one_is_built_answers_that_one(api, world):
    me = api(world.student_token)
    first = asked(me)
    assert first == {"id": first["id"], "status": "pending"}
    assert asked(me) == first
    answer = me.call("get", download(first["id"]))
    assert (answer.status_code, answer.json()) == (200, first)
    assert DataExport.objects.filter(owner=world.student).count() == 1


def test_the_archive_holds_what_we_keep_and_no_secret(api, world):
    me = api(world.student_token)
    export_id = asked(me)["id"]
    assert services.export_build(export_id=export_id, expires_in_hours=5) == "ready"
    answer = me.call("get", download(export_id))
    assert answer.status_code == 200
    archive = answer.json()
    assert (archive["id"], archive["status"]) == (export_id, "ready")
    stored = DataExport.objects.get(pk=export_id)
    assert stored.expires_at - stored.ready_at == timedelta(hours=5)
    assert archive["profile"]["email"] == world.student.email
    assert archive["instructor"] is None

    assert "Sam's phone" in [t["name"] for t in archive["tokens"]]
    assert all("digest" not in t for t in archive["tokens"])
    upcoming = next(b for b in archive["bookings"] if b["id"] == world.upcoming.pk)
    assert upcoming["note"] == "Ring twice, the bell is broken"
    assert upcoming["place"]["text"] == "12 Secret Lane"
    assert "client_secret" not in upcoming["payment"]
    assert {b["id"] for b in archive["bookings"]} == {world.upcoming.pk, world.past.pk}

    (conversation,) = archive["conversations"]
    assert conversation["instructor"]["name"] == world.instructor.name
    assert [m["body"] for m in conversation["messages"]] == ["My secret is 42"]

    assert "booking_confirmed" in {n["kind"] for n in archive["notifications"]["items"]}
    assert archive["notifications"]["email"]["export_ready"] is True
    assert archive["credits"]["balances"] == [{"currency": "EUR", "amount_cents": 500}]
    assert archive["credits"]["entries"][0]["note"] == "Sorry about Tuesday, Sam"
    references = {p["reference"] for p in archive["payments"]["items"]}
    assert references == {f"booking-{world.upcoming.pk}", f"booking-{world.past.pk}"}

    text = json.dumps(archive)
    for secret in ("pi_1_secret_abc", "cus_1", "pm_card_1", "dev_pi_past", "Noted, see you",
                   world.student_token, world.instructor_token):  # fmt: skip
        assert secret not in text


def test_a_ready_export_tells_its_owner_once(api, world):
    export_id = asked(api(world.student_token))["id"]
    assert tasks.export_build(export_id, 1.5) == "ready"
    assert tasks.export_build(export_id, 99) == "ready"  # a second run changes nothing
    assert django_settings.PRIVACY_EXPORT_RETENTION_HOURS == 72  # options are arguments
    stored = DataExport.objects.get(pk=export_id)
    assert stored.expires_at - stored.ready_at == timedelta(hours=1.5)
    (notice,) = Notification.objects.filter(user=world.student, kind="export_ready")
    assert notice.data == {"export_id": export_id, "expires_at": notice.data["expires_at"]}


def test_an_instructor_gets_their_profile_and_the_lessons_they_give(api, world):
    export_id = asked(api(world.instructor_token))["id"]
    services.export_build(export_id=export_id, expires_in_hours=1)
    archive = api(world.instructor_token).call("get", download(export_id)).json()
    assert archive["instructor"]["services"][0]["name"] == "Piano"
    assert {b["id"] for b in archive["bookings"]} == {world.upcoming.pk, world.past.pk}
    (conversation,) = archive["conversations"]
    assert [m["body"] for m in conversation["messages"]] == ["Noted, see you"]
    roles = {p["role"] for p in archive["payments"]["items"]}
    assert roles == {"payee"}


def test_only_the_owner_sees_an_export_and_others_get_what_a_missing_one_gets(
    api, world, token_for, make_user
):
    export_id = asked(api(world.student_token))["id"]
    services.export_build(export_id=export_id, expires_in_hours=1)
    for stranger in (world.instructor, make_user("student")):
        other = api(token_for(stranger))
        theirs = other.call("get", download(export_id))
        missing = other.call("get", download(999_999))
        assert_error(theirs, 404, "not_found")
        assert theirs.json() == missing.json()
    for token in (None, "hub_not-a-token"):
        for method, path in (("post", ASK), ("get", download(export_id))):
            assert_error(api(token).call(method, path), 401, "unauthorized")
    assert_error(api(world.student_token).call("get", download(0)), 422, "invalid")


def test_an_expired_export_is_gone_and_its_archive_pruned(api, world):
    me = api(world.student_token)
    export_id = asked(me)["id"]
    services.export_build(export_id=export_id, expires_in_hours=1)
    DataExport.objects.filter(pk=export_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_error(me.call("get", download(export_id)), 410, "gone")  # before the prune, too
    assert tasks.exports_prune() == 1
    assert tasks.exports_prune() == 0
    stored = DataExport.objects.get(pk=export_id)
    assert (stored.status, stored.archive) == ("expired", None)
    assert_error(me.call("get", download(export_id)), 410, "gone")
    assert asked(me)["id"] != export_id  # a new one may be asked for


def test_a_lost_pending_export_does_not_block_a_new_one(api, world):
    me = api(world.student_token)
    lost = asked(me)["id"]
    DataExport.objects.filter(pk=lost).update(created_at=timezone.now() - timedelta(hours=2))
    fresh = asked(me)
    assert fresh["id"] != lost and fresh["status"] == "pending"
    assert DataExport.objects.get(pk=lost).status == "failed"
    assert me.call("get", download(lost)).json() == {"id": lost, "status": "failed"}


def test_a_person_asks_for_a_few_exports_a_day(api, world, settings):
    settings.PRIVACY_EXPORTS_PER_DAY = 2
    me = api(world.student_token)
    for _ in range(2):
        services.export_build(export_id=asked(me)["id"], expires_in_hours=1)
    refused = me.call("post", ASK)
    assert_error(refused, 429, "rate_limited")
    assert int(refused["Retry-After"]) > 0


def test_an_export_that_is_gone_is_left_alone():
    assert services.export_build(export_id=999_999, expires_in_hours=1) == "gone"


def test_an_export_is_kept_for_a_sensible_time(world):
    for hours in (0, -1, 24 * 366):
        with pytest.raises(Invalid):
            services.export_request(user=world.student, expires_in_hours=hours)
    assert not DataExport.objects.exists()


def test_an_export_whose_owner_is_being_erased_is_not_built(world):
    export, _ = services.export_request(user=world.student, expires_in_hours=1)
    # The erasure has claimed the account (its scrub deletes the export when it commits).
    Erasure.objects.create(user=world.student, started_at=timezone.now())
    assert services.export_build(export_id=export.pk, expires_in_hours=1) == "gone"
    assert DataExport.objects.get(pk=export.pk).archive is None
    assert not Notification.objects.filter(kind="export_ready").exists()
