"""Keep the API's error shape for the one answer django-ninja writes itself."""

import json
import math

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from accounts import throttle
from conventions.errors import RateLimited, error_body


class ApiMethodNotAllowed:
    """Rewrite ninja's plain-text 405 under /api/ into `{"error": ...}`, keeping `Allow`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 405 and request.path.startswith("/api/"):
            body = error_body(
                "method_not_allowed",
                f"{request.method} is not allowed here.",
                {"allow": response.get("Allow", "")},
            )
            response.content = json.dumps(body).encode()
            response["Content-Type"] = "application/json"
        return response


class ContentSecurityPolicy:
    """Every HTML page says where its scripts, styles and sockets may come from."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.get("Content-Type", "").startswith("text/html"):
            response.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response


class AdminLoginThrottle:
    """The admin's login form counts failures like the API's, refused (429) before hashing."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or request.path != reverse("admin:login"):
            return self.get_response(request)
        email = str(request.POST.get("username", ""))
        address = str(request.META.get("REMOTE_ADDR") or "unknown")
        try:
            throttle.login_check(email=email, address=address)
        except RateLimited as refused:
            response = HttpResponse(
                "Too many failed sign-ins; try again later.", status=429, content_type="text/plain"
            )
            response["Retry-After"] = str(max(1, math.ceil(refused.retry_after)))
            return response
        response = self.get_response(request)
        if response.status_code == 200:  # the form again: the sign-in failed
            throttle.login_failed(email=email, address=address)
        return response
