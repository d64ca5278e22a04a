from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts import tasks
from accounts.models import ApiToken, User
from accounts.services import role_assign, token_create, user_create
from tests.helpers import PASSWORD

pytestmark = pytest.mark.django_db


def test_role_assign_keeps_staff_flags_in_step(make_user):
    user = make_user()
    role_assign(user=user, role="admin")
    user.refresh_from_db()
    assert (user.role, user.is_staff, user.is_superuser) == ("admin", True, True)
    role_assign(user=user, role="instructor")
    user.refresh_from_db()
    assert (user.role, user.is_staff, user.is_superuser) == ("instructor", False, False)


def test_admin_role_actions_go_through_role_assign(admin_client, make_user):
    user = make_user()
    response = admin_client.post(
        "/admin/accounts/user/",
        {"action": "make_instructor", "_selected_action": [user.pk]},
        follow=True,
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.role == "instructor"


def test_admin_pages_render(admin_client, make_user):
    user = make_user()
    assert admin_client.get("/admin/accounts/user/").status_code == 200
    assert admin_client.get(f"/admin/accounts/user/{user.pk}/change/").status_code == 200
    assert admin_client.get("/admin/accounts/user/add/").status_code == 200
    assert admin_client.get("/admin/accounts/apitoken/").status_code == 200


def test_admin_user_add_form_creates_a_student(admin_client):
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "email": "added@example.com",
            "name": "Added",
            "timezone": "UTC",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "usable_password": "true",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    assert User.objects.get(email="added@example.com").role == "student"


def test_admin_token_creation_shows_the_token_once(admin_client, make_user):
    user = make_user()
    response = admin_client.post(
        "/admin/accounts/apitoken/add/", {"user": user.pk, "name": "cli"}, follow=True
    )
    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    token = next(m for m in messages if "hub_" in m).split(": ")[-1]
    stored = ApiToken.objects.get(user=user)
    assert stored.name == "cli"
    assert token not in stored.digest
    assert admin_client.get(f"/admin/accounts/apitoken/{stored.pk}/change/").status_code == 200


def test_admin_revoke_action(admin_client, make_user):
    api_token, _ = token_create(user=make_user())
    admin_client.post(
        "/admin/accounts/apitoken/", {"action": "revoke", "_selected_action": [api_token.pk]}
    )
    api_token.refresh_from_db()
    assert api_token.revoked_at is not None


def test_tokens_prune_forgets_only_long_revoked_tokens(make_user):
    user = make_user()
    old, _ = token_create(user=user)
    recent, _ = token_create(user=user)
    live, _ = token_create(user=user)
    ApiToken.objects.filter(pk=old.pk).update(revoked_at=timezone.now() - timedelta(days=31))
    ApiToken.objects.filter(pk=recent.pk).update(revoked_at=timezone.now() - timedelta(days=1))
    assert tasks.tokens_prune() == 1
    assert tasks.tokens_prune() == 0
    assert set(ApiToken.objects.values_list("pk", flat=True)) == {recent.pk, live.pk}


def test_createsuperuser_path_and_unusable_password():
    user = user_create(email="nopass@example.com", password=None, name="N")
    assert not user.has_usable_password()


def test_demo_data_is_idempotent(capsys):
    call_command("demo_data")
    call_command("demo_data")
    out = capsys.readouterr().out
    assert "instructor@example.com" in out and "student@example.com" in out
    instructor = User.objects.get(email="instructor@example.com")
    assert instructor.role == "instructor"
    assert instructor.instructor_profile.services.count() == 1
    assert instructor.instructor_profile.availability_rules.count() == 5
    assert User.objects.get(email="student@example.com").role == "student"


def test_index_page(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"/api/v1/docs" in response.content
