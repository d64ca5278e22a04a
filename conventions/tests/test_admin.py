"""Operators see the outbox, given-up e-mails and their errors included, but cannot
write e-mails there: every row comes from the change it reports."""

import pytest
from django.urls import reverse

from conventions.mail import email_enqueue
from conventions.models import OutgoingEmail

pytestmark = pytest.mark.django_db


def test_the_outbox_is_listed_read_only(admin_client):
    email_enqueue(key="reminder-x", to="ana@example.com", subject="Hi", body="Body")
    OutgoingEmail.objects.update(attempts=8, next_attempt_at=None, last_error="SMTPDataError: 554")
    email = OutgoingEmail.objects.get()
    listing = admin_client.get(reverse("admin:conventions_outgoingemail_changelist"))
    assert listing.status_code == 200
    assert b"reminder-x" in listing.content and b"SMTPDataError: 554" in listing.content
    page = admin_client.get(reverse("admin:conventions_outgoingemail_change", args=[email.pk]))
    assert page.status_code == 200
    assert admin_client.get(reverse("admin:conventions_outgoingemail_add")).status_code == 403
    admin_client.post(
        reverse("admin:conventions_outgoingemail_change", args=[email.pk]),
        {"subject": "Changed"},
    )
    assert OutgoingEmail.objects.get().subject == "Hi"
