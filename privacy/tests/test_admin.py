"""Staff's privacy tools in the admin: export or erase anyone's data (never a staff
account's, and erasing only after a confirmation page), and the records of both."""

import time

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.models import User
from privacy.models import DataExport, Erasure
from privacy.services import export_build
from tests.helpers import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

ACCOUNTS = "admin:privacy_account_changelist"


def act(admin_client, action, *users, **extra):
    response = admin_client.post(
        reverse(ACCOUNTS),
        {"action": action, "_selected_action": [u.pk for u in users], **extra},
        follow=True,
    )
    assert response.status_code == 200
    return response, [str(m) for m in get_messages(response.wsgi_request)]


def test_pages_render_and_nothing_is_edited_by_hand(admin_client, world):
    for name in ("account", "dataexport", "erasure"):
        assert admin_client.get(reverse(f"admin:privacy_{name}_changelist")).status_code == 200
    page = admin_client.get(reverse("admin:privacy_account_change", args=[world.student.pk]))
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert admin_client.get(reverse("admin:privacy_account_add")).status_code == 403


def test_staff_export_someones_data_and_download_it(admin_client, world):
    _, said = act(admin_client, "export_data", world.student)
    export = DataExport.objects.get(owner=world.student)
    assert export.requested_by.email == "root@example.com"
    assert said == [f"{world.student.email}: export {export.pk} is being built (see Data exports)."]
    url = reverse("admin:privacy_dataexport_download", args=[export.pk])
    assert admin_client.get(url).status_code == 403  # nothing to download while pending
    export_build(export_id=export.pk, expires_in_hours=1)
    listing = admin_client.get(reverse("admin:privacy_dataexport_changelist"))
    assert url.encode() in listing.content
    download = admin_client.get(url)
    assert download.status_code == 200
    assert download["Content-Disposition"] == f'attachment; filename="export-{export.pk}.json"'
    assert download.json()["profile"]["email"] == world.student.email


def test_erasing_asks_first_then_runs_on_the_worker(admin_client, world, worker):
    confirm, _ = act(admin_client, "erase_accounts", world.student)
    assert b"Yes, erase them" in confirm.content and world.student.email.encode() in confirm.content
    assert not Erasure.objects.exists()  # nothing happens before the confirmation

    _, said = act(admin_client, "erase_accounts", world.student, confirm="yes")
    assert said == ["Erasing 1 account(s); see Erasures for when each is done."]
    deadline = time.monotonic() + 20
    while not Erasure.objects.filter(finished_at__isnull=False).exists():
        assert time.monotonic() < deadline, "the erasure did not finish"
        time.sleep(0.05)
    erasure = Erasure.objects.get()
    assert (erasure.user_id, erasure.by_staff.email) == (world.student.pk, "root@example.com")
    assert User.objects.get(pk=world.student.pk).name == "deleted user"
    assert admin_client.get(reverse("admin:privacy_erasure_changelist")).status_code == 200


def test_staff_accounts_are_never_erased_from_the_admin(admin_client):
    other_admin = User.objects.create_superuser(email="ops@example.com", password=PASSWORD, name="")
    _, said = act(admin_client, "erase_accounts", other_admin, confirm="yes")
    assert said == [
        "ops@example.com is a staff account and is not erased; take the admin role away first."
    ]
    other_admin.refresh_from_db()
    assert other_admin.is_active and not Erasure.objects.exists()
