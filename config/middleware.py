"""Keep the API's error shape for the one answer django-ninja writes itself."""

import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from conventions.errors import error_body


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
