from django.http import HttpRequest
from ninja import Router, Status

from accounts import services
from accounts.auth import AuthedRequest
from accounts.schemas import LoginIn, RegisterIn, TokenOut, UserOut

router = Router(tags=["accounts"])


@router.post("/auth/register", response={201: TokenOut}, auth=None)
def register(request: HttpRequest, payload: RegisterIn):
    """Create a student or instructor account and return its first token."""
    user, token = services.user_register(**payload.dict())
    return Status(201, {"token": token, "user": user})


@router.post("/auth/token", response=TokenOut, auth=None)
def login(request: HttpRequest, payload: LoginIn):
    """Exchange e-mail and password for a new token."""
    user, token = services.token_login(email=payload.email, password=payload.password)
    return {"token": token, "user": user}


@router.delete("/auth/token", response={204: None})
def logout(request: AuthedRequest):
    """Revoke the token this request was made with."""
    if request.auth.api_token is not None:  # always, behind TokenAuth
        services.token_revoke(api_token=request.auth.api_token)
    return Status(204, None)


@router.get("/me", response=UserOut)
def me(request: AuthedRequest):
    return request.auth
