"""Writes for users, roles and API tokens."""

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts import throttle
from accounts.models import ApiToken, Invite, Role, User
from accounts.selectors import tokens_live
from conventions.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from conventions.text import text_clean
from conventions.timezones import is_valid_timezone

TOKEN_PREFIX = "hub_"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def role_assign(*, user: User, role: str) -> User:
    """The one place a role changes: it also keeps Django's staff flags in step."""
    if role not in Role.values:
        raise Invalid("Unknown role.", details={"role": f"must be one of {Role.values}"})
    user.role = role
    user.is_staff = role == Role.ADMIN
    user.is_superuser = role == Role.ADMIN
    if user.pk:
        user.save(update_fields=["role", "is_staff", "is_superuser"])
    return user


def _validated_fields(*, email: str, name: str, timezone_name: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    email = User.objects.normalize_email((email or "").strip()).lower()
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = "Enter a valid e-mail address."
    if email.endswith(".invalid"):  # never deliverable; erased accounts' addresses live there
        errors["email"] = "Enter a valid e-mail address."
    try:
        name = text_clean(name or "", field="name", max_length=150)
    except Invalid as refused:
        errors.update(refused.details)
    else:
        if not name:
            errors["name"] = "This field may not be blank."
    if not is_valid_timezone(timezone_name):
        errors["timezone"] = "Unknown time zone; use an IANA name such as Europe/Berlin."
    if errors:
        raise Invalid("Some fields are invalid.", details=errors)
    return {"email": email, "name": name, "timezone": timezone_name}


def user_prepare(
    *,
    email: str,
    password: str | None,
    name: str = "",
    role: str = Role.STUDENT,
    timezone: str = "UTC",
) -> User:
    """A validated, unsaved user with its password hashed: the slow part, kept out of
    every transaction (PBKDF2 takes about a second; SQLite has one write lock)."""
    fields = _validated_fields(email=email, name=name or email, timezone_name=timezone)
    user = User(**fields)
    if password is None:
        user.set_unusable_password()
    else:
        try:
            password_validation.validate_password(password, user)
        except ValidationError as exc:
            raise Invalid("The password is too weak.", details={"password": exc.messages}) from exc
        user.set_password(password)
    role_assign(user=user, role=role)
    if User.objects.filter(email=fields["email"]).exists():
        raise _email_taken()
    return user


def _email_taken() -> Conflict:
    return Conflict("This e-mail address is already registered.", details={"email": "taken"})


def user_save_new(*, user: User) -> User:
    """Insert a prepared user; a concurrent registration of the same e-mail is a 409."""
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        raise _email_taken() from exc
    return user


def user_create(
    *,
    email: str,
    password: str | None,
    name: str = "",
    role: str = Role.STUDENT,
    timezone: str = "UTC",
) -> User:
    """Create a user with a validated password and a role set through role_assign."""
    user = user_prepare(email=email, password=password, name=name, role=role, timezone=timezone)
    return user_save_new(user=user)


def user_register(
    *,
    email: str,
    password: str,
    name: str,
    role: str,
    timezone: str,
    client_address: str = "",
    invite_code: str | None = None,
) -> tuple[User, str]:
    """Self-service sign-up: students and instructors only; returns the user and a token.

    An invite code (required with REGISTRATION_REQUIRES_INVITE) is checked before the
    password is hashed, then locked and spent in the transaction that creates the user;
    the invite's role replaces the one asked for.
    """
    if role not in (Role.STUDENT, Role.INSTRUCTOR):
        raise Invalid("Choose student or instructor.", details={"role": "not allowed"})
    throttle.registration_check(address=client_address)
    invite_code = (invite_code or "").strip()
    if not invite_code and settings.REGISTRATION_REQUIRES_INVITE:
        raise Invalid("Registration is by invite only.", details={"invite_code": "required"})
    if invite_code:
        invite_check(invite=_invite_by_code(code=invite_code), email=email)
    user = user_prepare(email=email, password=password, name=name, role=role, timezone=timezone)
    with transaction.atomic():
        if invite_code:
            invite = invite_spend(code=invite_code, email=user.email)
            role_assign(user=user, role=invite.role)
        user_save_new(user=user)
        _, token = token_create(user=user, name="register")
    return user, token


INVITE_PREFIX = "inv_"


def invite_create(
    *,
    created_by: User | None,
    role: str,
    email: str = "",
    uses: int = 1,
    expires_at: datetime | None = None,
) -> tuple[Invite, str]:
    """Staff only: a new invite and its code, returned here once and stored as a digest."""
    if created_by is not None and created_by.role != Role.ADMIN:
        raise Forbidden("Only staff create invites.")
    errors: dict[str, str] = {}
    if role not in (Role.STUDENT, Role.INSTRUCTOR):
        errors["role"] = "must be student or instructor"
    email = User.objects.normalize_email((email or "").strip()).lower()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = "Enter a valid e-mail address."
    if uses < 1:
        errors["uses"] = "must be at least 1"
    if expires_at is not None and expires_at <= timezone.now():
        errors["expires_at"] = "must be in the future"
    if errors:
        raise Invalid("Some fields are invalid.", details=errors)
    code = INVITE_PREFIX + secrets.token_urlsafe(24)
    invite = Invite.objects.create(
        digest=token_digest(code),
        prefix=code[:12],
        email=email,
        role=role,
        uses_allowed=uses,
        expires_at=expires_at,
        created_by=created_by,
    )
    return invite, code


def _invite_by_code(*, code: str, lock: bool = False) -> Invite | None:
    invites = Invite.objects.select_for_update() if lock else Invite.objects
    return invites.filter(digest=token_digest(code)).first()


def invite_check(*, invite: Invite | None, email: str) -> Invite:
    """The invite if `email` may register with it now; else 422 naming `invite_code`."""
    if invite is None:
        raise Invalid("This invite code cannot be used.", details={"invite_code": "unknown"})
    reason = None
    if invite.uses_spent >= invite.uses_allowed:
        reason = "used up"
    elif invite.expires_at is not None and invite.expires_at <= timezone.now():
        reason = "expired"
    elif invite.email and invite.email != (email or "").strip().lower():
        reason = "for another e-mail"
    if reason is not None:
        raise Invalid("This invite code cannot be used.", details={"invite_code": reason})
    return invite


@transaction.atomic
def invite_spend(*, code: str, email: str) -> Invite:
    """Lock the invite row and spend one use; run inside the registration's transaction."""
    invite = invite_check(invite=_invite_by_code(code=code, lock=True), email=email)
    Invite.objects.filter(pk=invite.pk).update(uses_spent=F("uses_spent") + 1)
    invite.uses_spent += 1
    return invite


def _token_lifetime() -> timedelta:
    return timedelta(days=settings.TOKEN_LIFETIME_DAYS)


def token_create(*, user: User, name: str = "api") -> tuple[ApiToken, str]:
    """Issue a token; the plain value is returned here once and never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    api_token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        digest=token_digest(token),
        prefix=token[:12],
        expires_at=timezone.now() + _token_lifetime(),
    )
    return api_token, token


def token_login(*, email: str, password: str, client_address: str = "") -> tuple[User, str]:
    """Exchange e-mail and password for a fresh token; one answer for every failure.

    Refused (429) before any hashing once the account or the address has used up
    its failed attempts.
    """
    user = password_check(email=email, password=password, client_address=client_address)
    _, token = token_create(user=user, name="login")
    return user, token


def password_check(*, email: str, password: str, client_address: str = "") -> User:
    """The active user with this e-mail and password; one answer for every failure.

    Shared by the token login and the page's session sign-in, so both draw on the same
    failed-attempt limits (429 before any hashing once used up).
    """
    throttle.login_check(email=email or "", address=client_address)
    user = User.objects.filter(email=(email or "").strip().lower()).first()
    if user is None:
        # Spend the same time hashing so response time does not reveal the account.
        User(email="").set_password(password)
        throttle.login_failed(email=email or "", address=client_address)
        raise Unauthorized("Wrong e-mail or password.")
    if not user.check_password(password) or not user.is_active:
        throttle.login_failed(email=email or "", address=client_address)
        raise Unauthorized("Wrong e-mail or password.")
    return user


def token_authenticate(*, token: str) -> User | None:
    """Resolve a live bearer token to its active user; each use (noted at most once a
    minute) renews the token's lifetime."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    now = timezone.now()
    api_token = (
        ApiToken.objects.select_related("user")
        .filter(
            digest=token_digest(token),
            revoked_at__isnull=True,
            expires_at__gt=now,
            user__is_active=True,
        )
        .first()
    )
    if api_token is None:
        return None
    interval = timedelta(seconds=settings.TOKEN_LAST_USED_INTERVAL_SECONDS)
    if api_token.last_used_at is None or now - api_token.last_used_at > interval:
        api_token.last_used_at, api_token.expires_at = now, now + _token_lifetime()
        ApiToken.objects.filter(pk=api_token.pk).update(
            last_used_at=api_token.last_used_at, expires_at=api_token.expires_at
        )
    api_token.user.api_token = api_token
    return api_token.user


def token_revoke(*, api_token: ApiToken) -> ApiToken:
    """Revoke one token; its sockets are closed (4001) by every server's next sweep."""
    if api_token.revoked_at is None:
        api_token.revoked_at = timezone.now()
        ApiToken.objects.filter(pk=api_token.pk, revoked_at__isnull=True).update(
            revoked_at=api_token.revoked_at
        )
    return api_token


def token_revoke_own(*, user: User, token_id: int) -> None:
    """Revoke one of the caller's live tokens; anyone else's id is a 404, like a missing one."""
    api_token = tokens_live(user=user).filter(pk=token_id).first()
    if api_token is None:
        raise NotFound("No such token.")
    token_revoke(api_token=api_token)


def password_confirm(
    *, user: User, password: str, client_address: str = "", refusal: str = "Wrong password."
) -> None:
    """A signed-in person proves it is them again (a password change, closing the account).

    Wrong passwords count as failed logins, so they share the login's limits (429).
    """
    throttle.login_check(email=user.email, address=client_address)
    if not user.check_password(password):
        throttle.login_failed(email=user.email, address=client_address)
        raise Unauthorized(refusal)


def password_change(
    *,
    user: User,
    current_password: str,
    new_password: str,
    keep: ApiToken | None,
    client_address: str = "",
) -> None:
    """Change the password and revoke every other token (their sockets close with 4001).

    Both hashes are computed before the short transaction that writes them; wrong
    current passwords count as failed logins.
    """
    password_confirm(
        user=user,
        password=current_password,
        client_address=client_address,
        refusal="The current password is wrong.",
    )
    try:
        password_validation.validate_password(new_password, user)
    except ValidationError as exc:
        raise Invalid(
            "The new password is too weak.", details={"new_password": exc.messages}
        ) from exc
    user.set_password(new_password)
    with transaction.atomic():
        user.save(update_fields=["password"])
        others = ApiToken.objects.filter(user=user, revoked_at__isnull=True)
        if keep is not None:
            others = others.exclude(pk=keep.pk)
        others.update(revoked_at=timezone.now())


REVOKED_TOKEN_RETENTION = timedelta(days=30)


def tokens_prune() -> int:
    """Delete expired tokens, and tokens revoked more than 30 days ago; returns how many."""
    now = timezone.now()
    deleted, _ = ApiToken.objects.filter(
        Q(expires_at__lt=now) | Q(revoked_at__lt=now - REVOKED_TOKEN_RETENTION)
    ).delete()
    return deleted


def tokens_still_valid(*, token_ids: set[int]) -> set[int]:
    """Those of `token_ids` not revoked, not expired, and whose user is still active."""
    if not token_ids:
        return set()
    return set(
        ApiToken.objects.filter(
            pk__in=token_ids,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
            user__is_active=True,
        ).values_list("pk", flat=True)
    )
