"""The error vocabulary that services raise and both transports translate.

It lives on the ground floor so every layer may import it: REST turns an error
into its HTTP status and `{"error": ...}` body, the socket into an `error` reply.
"""

from typing import Any


class ServiceError(Exception):
    """A refusal the caller can act on; never a bug."""

    status = 400
    code = "bad_request"
    socket_code = "bad_request"

    def __init__(self, message: str, *, details: Any = None):
        super().__init__(message)
        self.message = message
        self.details = details


class BadRequest(ServiceError):
    pass


class Invalid(ServiceError):
    status = 422
    code = "invalid"


class Unauthorized(ServiceError):
    status = 401
    code = socket_code = "unauthorized"


class Forbidden(ServiceError):
    status = 403
    code = socket_code = "forbidden"


class NotFound(ServiceError):
    status = 404
    code = socket_code = "not_found"


class Conflict(ServiceError):
    status = 409
    code = socket_code = "conflict"


class LimitExceeded(ServiceError):
    status = 409
    code = socket_code = "limit_exceeded"


class Gone(ServiceError):
    """It existed and is yours, but is no longer kept (an expired data export)."""

    status = 410
    code = "gone"
    socket_code = "not_found"


class RateLimited(ServiceError):
    status = 429
    code = socket_code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float, details: Any = None):
        super().__init__(message, details=details)
        self.retry_after = retry_after


class Unavailable(ServiceError):
    status = 503
    code = socket_code = "unavailable"


# The code an HTTP status carries when no ServiceError names one.
HTTP_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "too_large",
    422: "invalid",
    429: "rate_limited",
    500: "internal",
    503: "unavailable",
}


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The one error shape of every REST answer: `{"error": {code, message, details}}`."""
    return {"error": {"code": code, "message": message, "details": details}}
