from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone as django_timezone


class Role(models.TextChoices):
    STUDENT = "student", "Student"
    INSTRUCTOR = "instructor", "Instructor"
    ADMIN = "admin", "Admin"


class Users(BaseUserManager):
    """Django's hook for `createsuperuser`; everything else goes through services."""

    use_in_migrations = True

    def create_user(self, email, password=None, **extra):
        from accounts.services import user_create

        return user_create(email=email, password=password, **extra)

    def create_superuser(self, email, password=None, **extra):
        from accounts.services import user_create

        extra.pop("is_staff", None)
        extra.pop("is_superuser", None)
        return user_create(email=email, password=password, role=Role.ADMIN, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in by e-mail; the role says which side of a lesson they are on."""

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150)
    timezone = models.CharField(max_length=64, default="UTC")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.STUDENT)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=django_timezone.now)

    objects = Users()
    # Not a column: the token this request or socket authenticated with, when it was one.
    api_token: "ApiToken | None" = None

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="user_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.email


class ApiToken(models.Model):
    """A bearer token; only its SHA-256 digest is stored, the token is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, default="api")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=12, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Renewed by use (TOKEN_LIFETIME_DAYS after the last one); past it the token is dead.
    expires_at = models.DateTimeField(editable=False)

    class Meta:
        indexes = [
            models.Index(fields=["user", "revoked_at"]),
            models.Index(fields=["expires_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > django_timezone.now()


class Invite(models.Model):
    """A beta invite: its code opens registration (see docs/invites.md).

    Only the code's SHA-256 digest is stored; the code itself is shown once, on creation.
    """

    digest = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=12, editable=False)
    # Blank: anyone holding the code; otherwise only this e-mail (stored lower-case).
    email = models.EmailField(blank=True, default="")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.STUDENT)
    uses_allowed = models.PositiveIntegerField(default=1)
    uses_spent = models.PositiveIntegerField(default=0, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="invites_created"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=[Role.STUDENT, Role.INSTRUCTOR]),
                name="invite_role_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(uses_allowed__gte=1), name="invite_uses_allowed_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(uses_spent__lte=models.F("uses_allowed")),
                name="invite_uses_within_allowed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.role})"
