"""What a message must be, and how fast one may send: shared by single and batched sends."""

from django.conf import settings

from conventions.errors import Invalid
from conventions.ratelimit import Rate
from conventions.text import text_refuse_controls

MAX_BODY = 4000
MAX_CLIENT_ID = 64


def send_rate() -> Rate:
    return Rate.per_minute(settings.CHAT_MESSAGE_RATE_PER_MINUTE, settings.CHAT_MESSAGE_BURST)


def clean_body(body: object) -> str:
    if not isinstance(body, str):
        raise Invalid("`body` must be text.", details={"body": "must be a string"})
    body = text_refuse_controls(body.strip(), field="body", multi_line=True)
    if not body or len(body) > MAX_BODY:
        raise Invalid(
            f"A message is 1 to {MAX_BODY} characters after trimming.",
            details={"body": f"1 to {MAX_BODY} characters"},
        )
    return body


def clean_client_id(client_id: object) -> str:
    if not isinstance(client_id, str) or not 1 <= len(client_id) <= MAX_CLIENT_ID:
        raise Invalid(
            f"`client_id` is a string of 1 to {MAX_CLIENT_ID} characters.",
            details={"client_id": f"1 to {MAX_CLIENT_ID} characters"},
        )
    return text_refuse_controls(client_id, field="client_id")
