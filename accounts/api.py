from django.http import HttpRequest
from ninja import Router, Status

from accounts import selectors, services
from accounts.auth import AuthedRequest
from accounts.me import me_data
from accounts.schemas import (
    InviteIn,
    InviteOut,
    LoginIn,
    MeOut,
    PasswordChangeIn,
    RegisterIn,
    TokenOut,
    TokenPage,
)
from conventions.pagination import Limit
from conventions.types import ObjectId

router = Router(tags=["accounts"])


def client_address(request: HttpRequest) -> str:
    """The client's address as the server saw it (behind a proxy: daphne --proxy-headers)."""
    return str(request.META.get("REMOTE_ADDR") or "unknown")


@router.post("/auth/register", response={201: TokenOut}, auth=None)
def register(request: HttpRequest, payload: RegisterIn):
    """Create a student or instructor account and return its first token."""
    user, token = services.user_register(**payload.dict(), client_address=client_address(request))
    return Status(201, {"token": token, "user": user})


@router.post("/auth/token", response=TokenOut, auth=None)
def login(request: HttpRequest, payload: LoginIn):
    """Exchange e-mail and password for a new token."""
    user, token = services.token_login(
        email=payload.email, password=payload.password, client_address=client_address(request)
    )
    return {"token": token, "user": user}


@router.post("/auth/logout", response={204: None})
def logout(request: AuthedRequest):
    """Revoke the token this request was made with; its sockets close with 4001."""
    if request.auth.api_token is not None:  # always, behind TokenAuth
        services.token_revoke(api_token=request.auth.api_token)
    return Status(204, None)


@router.delete("/auth/token", response={204: None})
def logout_by_delete(request: AuthedRequest):
    """The same as `POST /auth/logout` (kept for clients written before it)."""
    return logout(request)


@router.get("/auth/tokens", response=TokenPage)
def token_list(
    request: AuthedRequest,
    cursor: str | None = None,
    limit: int = Limit,
):
    """The caller's live tokens, newest first; `current` marks the one of this request."""
    items, next_cursor = selectors.tokens_page(
        user=request.auth, current=request.auth.api_token, cursor=cursor, limit=limit
    )
    return {"items": items, "next_cursor": next_cursor}


@router.delete("/auth/tokens/{token_id}", response={204: None})
def token_revoke(request: AuthedRequest, token_id: ObjectId):
    """Revoke one of the caller's tokens; its sockets close with 4001."""
    services.token_revoke_own(user=request.auth, token_id=token_id)
    return Status(204, None)


@router.post("/auth/password", response={204: None})
def password_change(request: AuthedRequest, payload: PasswordChangeIn):
    """Change the password: every other token is revoked and its sockets closed (4001)."""
    services.password_change(
        user=request.auth,
        current_password=payload.current_password,
        new_password=payload.new_password,
        keep=request.auth.api_token,
        client_address=client_address(request),
    )
    return Status(204, None)


@router.get("/me", response=MeOut)
def me(request: AuthedRequest):
    """The caller, with how many notifications they have not read."""
    return me_data(user=request.auth)


@router.post("/invites", response={201: InviteOut})
def invite_create(request: AuthedRequest, payload: InviteIn):
    """Admins only: create a beta invite; its code is in this answer and nowhere else."""
    invite, code = services.invite_create(
        created_by=request.auth,
        role=payload.role,
        email=payload.email or "",
        uses=payload.uses,
        expires_at=payload.expires_at,
    )
    return Status(
        201,
        {
            "id": invite.pk,
            "code": code,
            "email": invite.email or None,
            "role": invite.role,
            "uses": invite.uses_allowed,
            "uses_spent": invite.uses_spent,
            "expires_at": invite.expires_at,
            "created_at": invite.created_at,
        },
    )
