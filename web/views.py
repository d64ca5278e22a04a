"""The app at `/`: the sign-in form for visitors, the calendar page for a signed-in user.

Sign-in and sign-out are plain form posts behind Django's CSRF middleware; the
password is checked by the same service as the API's token login, so both draw on
the same failed-attempt limits (429 with Retry-After, checked before any hashing).
"""

import math

from django.conf import settings
from django.contrib import auth
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.api import client_address
from accounts.services import password_check
from conventions.errors import RateLimited, ServiceError


def index(request: HttpRequest) -> HttpResponse:
    """The app for a signed-in user, else the sign-in form (with the API's links)."""
    if not request.user.is_authenticated:
        return render(request, "web/signin.html", {"email": ""})
    return render(
        request, "web/app.html", {"stripe_publishable_key": settings.STRIPE_PUBLISHABLE_KEY}
    )


@require_POST
def login(request: HttpRequest) -> HttpResponse:
    """Check e-mail and password; on success start a session and go to the app."""
    email = str(request.POST.get("email", ""))[:254]
    password = str(request.POST.get("password", ""))[:1024]
    try:
        address = client_address(request)
        user = password_check(email=email, password=password, client_address=address)
    except ServiceError as refused:
        response = render(
            request,
            "web/signin.html",
            {"email": email, "error": refused.message},
            status=refused.status,
        )
        if isinstance(refused, RateLimited):
            response["Retry-After"] = str(max(1, math.ceil(refused.retry_after)))
        return response
    # A new session key (no fixation); its hash of the password ends it on a password change.
    auth.login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect("index")


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """End the session: the page's socket is closed (4001) at the next re-check."""
    auth.logout(request)
    return redirect("index")
