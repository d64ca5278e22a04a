"""The one NinjaAPI: every app's router, bearer auth, and one error shape for all."""

import logging
import math

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from accounts.api import router as accounts_router
from accounts.auth import SessionAuthWithCsrf, TokenAuth
from bookings.api import router as bookings_router
from chat.api import router as chat_router
from conventions.errors import (
    HTTP_STATUS_CODES,
    RateLimited,
    ServiceError,
    Unavailable,
    error_body,
)
from notifications.api import router as notifications_router
from payments.api import router as payments_router
from privacy.api import router as privacy_router

logger = logging.getLogger(__name__)

api = NinjaAPI(
    title="Lessons hub API",
    version="1",
    urls_namespace="api-v1",
    # Bearer clients as before; the page at `/` by its session cookie and CSRF token.
    auth=[TokenAuth(), SessionAuthWithCsrf()],
    docs_url="/docs",
    openapi_url="/openapi.json",
)
api.add_router("/", accounts_router)
api.add_router("/", bookings_router)
api.add_router("/", chat_router)
api.add_router("/", payments_router)
api.add_router("/", notifications_router)
api.add_router("/", privacy_router)


# A dependency that did not answer (the payment provider): try again after this long.
DEPENDENCY_RETRY_AFTER_SECONDS = 5


def error_response(
    request: HttpRequest, status: int, code: str, message: str, details=None
) -> HttpResponse:
    return api.create_response(request, error_body(code, message, details), status=status)


@api.exception_handler(ServiceError)
def on_service_error(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    response = error_response(request, exc.status, exc.code, exc.message, exc.details)
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    elif isinstance(exc, Unavailable):  # a dependency (the payment provider) is away
        response["Retry-After"] = str(DEPENDENCY_RETRY_AFTER_SECONDS)
    return response


def _field_path(loc) -> str:
    # ninja prefixes the parameter kind ("body", "query", the schema name); keep the field path.
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie", "form"):
        parts = parts[1:]
    if len(parts) > 1 and parts[0] == "payload":
        parts = parts[1:]
    return ".".join(parts) or "body"


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    details: dict[str, str] = {}
    for error in exc.errors:
        details.setdefault(_field_path(error.get("loc", ())), error.get("msg", "invalid"))
    return error_response(request, 422, "invalid", "Some fields are invalid.", details)


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    message = "A valid bearer token (or the page's signed-in session) is required."
    response = error_response(request, 401, "unauthorized", message)
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = HTTP_STATUS_CODES.get(exc.status_code, "bad_request")
    message = "The request body is not valid JSON." if exc.status_code == 400 else str(exc)
    return error_response(request, exc.status_code, code, message)


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, 404, "not_found", "Not found.")


@api.exception_handler(PermissionDenied)
def on_permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return error_response(request, 403, "forbidden", "You may not do this.")


@api.exception_handler(RequestDataTooBig)
def on_body_too_large(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return error_response(
        request, 413, "too_large", f"The request body is over {limit} bytes.", {"limit": limit}
    )


# A lock wait that timed out (SQLite's one writer) or a database that is away: the
# request did nothing (its transaction rolled back), so the client may simply retry.
DATABASE_RETRY_AFTER_SECONDS = 2


@api.exception_handler(DatabaseOperationalError)
@api.exception_handler(DatabaseInterfaceError)
def on_database_unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.warning("Database unavailable on %s %s: %s", request.method, request.path, exc)
    response = error_response(
        request, 503, "unavailable", "The service is busy; try again in a moment."
    )
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


@api.exception_handler(Exception)
def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("Unhandled error on %s %s", request.method, request.path)
    return error_response(request, 500, "internal", "Something went wrong on our side.")


def unknown_api_path(request: HttpRequest, path: str = "") -> HttpResponse:
    """Paths under /api/ that no router owns still answer in the error shape."""
    return error_response(request, 404, "not_found", "No such endpoint.")
