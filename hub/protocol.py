"""Frames of the live protocol v1: parsing what clients send, encoding what we send."""

import json
from dataclasses import dataclass
from typing import Any

import orjson

MAX_FRAME_BYTES = 65_536
MAX_REF_LENGTH = 64

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_POLICY_VIOLATION = 1008
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011
CLOSE_UNAUTHORIZED = 4001
CLOSE_SLOW_CONSUMER = 4008

# A client's `ref`, echoed on the reply to its command.
Ref = str | int | None


class FrameError(Exception):
    """A frame that cannot carry a reply (not JSON, not an object, no `op`)."""


@dataclass(frozen=True, slots=True)
class Command:
    op: str
    ref: Ref
    body: dict[str, Any]


def parse_frame(text: str) -> Command:
    try:
        body = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise FrameError("The frame is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise FrameError("A frame must be a JSON object.")
    op = body.get("op")
    if not isinstance(op, str) or not op:
        raise FrameError("The frame has no `op`.")
    ref = body.get("ref")
    if isinstance(ref, float):
        ref = _exact_ref(text, ref)
    if isinstance(ref, bool) or not isinstance(ref, str | int | None):
        raise CommandError(op, None, "bad_request", "`ref` must be a string or an integer.")
    if ref is not None and len(str(ref)) > MAX_REF_LENGTH:
        raise CommandError(op, None, "bad_request", "`ref` is longer than 64 characters.")
    return Command(op=op, ref=ref, body=body)


def _exact_ref(text: str, ref: float) -> Ref | float:
    """orjson reads integers past 64 bits as floats; the standard parser keeps them whole."""
    try:
        exact = json.loads(text).get("ref")
    except (ValueError, RecursionError):
        return ref
    return exact if isinstance(exact, int) and not isinstance(exact, bool) else ref


class CommandError(Exception):
    """A refusal answered with an `ok: false` reply."""

    def __init__(self, op: str | None, ref: Ref, code: str, message: str, **extra: Any):
        super().__init__(message)
        self.op, self.ref, self.code, self.message, self.extra = op, ref, code, message, extra


def encode(frame: dict[str, Any]) -> str:
    try:
        return orjson.dumps(frame).decode()
    except TypeError:  # an integer `ref` past 64 bits, echoed as the client sent it
        return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def reply_ok(ref: Ref, data: dict[str, Any] | None = None) -> str:
    frame: dict[str, Any] = {"op": "reply", "ok": True, "data": data or {}}
    if ref is not None:
        frame["ref"] = ref
    return encode(frame)


def reply_error(ref: Ref, code: str, message: str, **extra: Any) -> str:
    frame: dict[str, Any] = {
        "op": "reply",
        "ok": False,
        "error": {"code": code, "message": message, **extra},
    }
    if ref is not None:
        frame["ref"] = ref
    return encode(frame)


def error_frame(message: str) -> str:
    return encode({"op": "error", "error": {"code": "bad_request", "message": message}})
