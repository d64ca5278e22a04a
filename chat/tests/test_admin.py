"""Chat admin pages render for support staff, and history there is read-only."""

import pytest
from django.urls import reverse

from accounts.models import User
from chat.models import Message
from chat.services import message_send
from tests.helpers import PASSWORD

pytestmark = pytest.mark.django_db


def test_admin_pages_render_and_messages_cannot_be_added(client, student, conversation):
    admin = User.objects.create_superuser(email="root@example.com", password=PASSWORD, name="R")
    client.force_login(admin)
    message_send(user=student, conversation_id=conversation.pk, body="hello", client_id="a")
    for name, obj in (("conversation", conversation), ("message", Message.objects.get())):
        assert client.get(reverse(f"admin:chat_{name}_changelist")).status_code == 200
        assert client.get(reverse(f"admin:chat_{name}_change", args=[obj.pk])).status_code == 200
    assert client.get(reverse("admin:chat_message_add")).status_code == 403
