"""The page cannot drift from the server: every REST call its JavaScript makes exists in
the OpenAPI document, and every topic family and event type it uses is in
docs/protocol.md. The page's modules keep each call as `api("METHOD", "/api/v1/…")`
with a literal path (web/static/web/api.js), which is what this test reads."""

import re
from pathlib import Path

from config.api import api

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "web" / "static" / "web"
CALL = re.compile(r"""\bapi\(\s*"(GET|POST|PUT|PATCH|DELETE)",\s*[`"](/api/v1/[^`"?]*)""")
TOPIC = re.compile(r"""subscribe\(\s*[`"]([a-z_]+):""")
EVENT = re.compile(r"""(?:type\s*===\s*|type\.startsWith\()\s*"([a-z_]+\.[a-z_.]*)\"""")


def page_modules() -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(STATIC.glob("*.js"))}


def template(path: str) -> str:
    """`/api/v1/bookings/${id}/cancel` and `/api/v1/bookings/{booking_id}/cancel` alike."""
    return re.sub(r"\$\{[^}]*\}|\{[^}]*\}", "{}", path.rstrip("/"))


def documented_paths() -> dict[str, set[str]]:
    schema = api.get_openapi_schema()
    return {
        template(path): {method.upper() for method in operations}
        for path, operations in schema["paths"].items()
    }


def protocol_names() -> tuple[set[str], set[str]]:
    """Topic families and event types named in docs/protocol.md (`.confirmed` after
    `booking.created` in a list means `booking.confirmed`)."""
    text = (ROOT / "docs" / "protocol.md").read_text()
    families = set(re.findall(r"`([a-z_]+):\{[a-z_]+\}`", text))
    events: set[str] = set()
    family = ""
    for name in re.findall(r"`([a-z_]*\.[a-z_]+)`", text):
        if name.startswith("."):
            events.add(family + name)
        else:
            family = name.split(".")[0]
            events.add(name)
    return families, events


def test_the_page_makes_rest_calls_at_all():
    calls = CALL.findall(page_modules()["api.js"])
    assert len(calls) >= 15
    assert ("POST", "/api/v1/bookings") in calls
    assert {
        ("GET", "/api/v1/notifications"),
        ("POST", "/api/v1/notifications/read"),
        ("GET", "/api/v1/me/notification-settings"),
        ("PUT", "/api/v1/me/notification-settings"),
        ("PATCH", "/api/v1/instructors/me"),
    } <= set(calls)


def test_every_rest_call_of_the_page_is_in_the_openapi_document():
    paths = documented_paths()
    missing = [
        f"{name}: {method} {path}"
        for name, source in page_modules().items()
        for method, path in CALL.findall(source)
        if method not in paths.get(template(path), set())
    ]
    assert not missing, missing


def test_every_topic_family_and_event_type_is_in_the_protocol():
    families, events = protocol_names()
    assert {"user", "conversation", "availability"} <= families
    assert {"booking.confirmed", "payment.captured", "availability.changed"} <= events
    used_families: set[str] = set()
    used_events: set[str] = set()
    for source in page_modules().values():
        used_families.update(TOPIC.findall(source))
        used_events.update(EVENT.findall(source))
    assert {"user", "availability"} <= used_families
    assert used_families <= families
    prefixes = {event.split(".")[0] + "." for event in events}
    unknown = {e for e in used_events if e not in events and e not in prefixes}
    assert not unknown, unknown
    assert {"booking.", "payment.", "availability.changed"} <= used_events
    assert {"notification.created", "notifications.unread"} <= used_events
