from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.utils import timezone

from accounts import services
from accounts.models import ApiToken, Invite, Role, User


def _role_action(role: str):
    @admin.action(description=f"Make the selected users {role}s")
    def action(modeladmin, request, queryset):
        for user in queryset:
            services.role_assign(user=user, role=role)
        modeladmin.message_user(request, f"{queryset.count()} user(s) are now {role}.")

    action.__name__ = f"make_{role}"
    return action


class UserCreateForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ["email", "name", "timezone"]


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    add_form = UserCreateForm
    form = UserEditForm
    ordering = ["email"]
    list_display = ["email", "name", "role", "timezone", "is_active", "date_joined"]
    list_filter = ["role", "is_active"]
    search_fields = ["email", "name"]
    readonly_fields = ["role", "is_staff", "is_superuser", "last_login", "date_joined"]
    actions = [_role_action(role) for role in Role.values]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["name", "timezone", "role"]}),
        ("Status", {"fields": ["is_active", "is_staff", "is_superuser"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"fields": ["email", "name", "timezone", "password1", "password2"]})]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "user", "name", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["user__email", "prefix"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    fields = ["user", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change) -> None:
        api_token, token = services.token_create(user=obj.user, name=obj.name)
        obj.pk = api_token.pk
        self.message_user(
            request, f"New token (shown only now, copy it): {token}", level=messages.WARNING
        )

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset) -> None:
        for api_token in queryset:
            services.token_revoke(api_token=api_token)
        self.message_user(request, f"Revoked {queryset.count()} token(s).")


class InviteForm(forms.ModelForm):
    """Refuses here what invite_create would refuse, so the admin shows it on the form."""

    role = forms.ChoiceField(choices=[(Role.STUDENT, "Student"), (Role.INSTRUCTOR, "Instructor")])

    class Meta:
        model = Invite
        fields = ["email", "role", "uses_allowed", "expires_at"]

    def clean_expires_at(self):
        expires_at = self.cleaned_data.get("expires_at")
        if expires_at is not None and expires_at <= timezone.now():
            raise forms.ValidationError("Must be in the future.")
        return expires_at


@admin.register(Invite)
class InviteAdmin(admin.ModelAdmin):
    """Staff create invites here; the code is shown once, in the message after saving."""

    list_display = ["prefix", "email", "role", "uses_spent", "uses_allowed", "expires_at",
                    "created_by", "created_at"]  # fmt: skip
    list_filter = ["role"]
    search_fields = ["email", "prefix"]
    form = InviteForm
    readonly_fields = ["prefix", "uses_spent", "created_by", "created_at"]
    fields = ["email", "role", "uses_allowed", "expires_at", *readonly_fields]

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change) -> None:
        invite, code = services.invite_create(
            created_by=request.user,
            role=obj.role,
            email=obj.email,
            uses=obj.uses_allowed,
            expires_at=obj.expires_at,
        )
        obj.pk = invite.pk
        self.message_user(
            request, f"New invite code (shown only now, copy it): {code}", level=messages.WARNING
        )
