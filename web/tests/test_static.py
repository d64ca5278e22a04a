"""hub.js is served as a static file by the same ASGI application daphne runs, with
DEBUG off as in production (make test runs with DEBUG=false), and the page that loads
it keeps a Content-Security-Policy that allows scripts from 'self' only."""

from asgiref.testing import ApplicationCommunicator
from django.conf import settings

from config.asgi import application


async def get(path: str) -> dict:
    """One GET through the ASGI application (channels' HttpCommunicator cannot read a
    streamed file: its last message may carry no `body`, which ASGI allows)."""
    scope = {
        "type": "http", "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"",
        "headers": [(b"host", b"127.0.0.1")], "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }  # fmt: skip
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    response = await communicator.receive_output(5)
    response["body"] = b""
    while True:
        chunk = await communicator.receive_output(5)
        response["body"] += chunk.get("body", b"")
        if not chunk.get("more_body", False):
            return response


async def test_hub_js_is_served_with_debug_off():
    assert not settings.DEBUG
    response = await get("/static/web/hub.js")
    assert response["status"] == 200
    headers = {name.lower(): value for name, value in response["headers"]}
    assert headers[b"content-type"].split(b";")[0] in (
        b"text/javascript",
        b"application/javascript",
    )
    assert b"export class Hub" in response["body"]


async def test_the_page_allows_module_scripts_from_its_own_origin_only():
    response = await get("/")
    headers = {name.lower(): value for name, value in response["headers"]}
    policy = headers[b"content-security-policy"].decode()
    assert "script-src 'self';" in policy
    assert "connect-src 'self' ws: wss:" in policy
