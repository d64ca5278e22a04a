"""HTTP goes to Django (with static files); WebSockets pass the origin check and
session authentication before reaching the hub."""

import os
import sys

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_http = get_asgi_application()

from django.conf import settings  # noqa: E402

# The loop's thread is busy under load; a worker thread back from the database then
# waits at most this long for the GIL instead of 5 ms per round trip (docs/benchmarks.md).
sys.setswitchinterval(settings.HUB_GIL_SWITCH_SECONDS)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from hub.auth import SessionAuth  # noqa: E402
from hub.origin import OriginCheck  # noqa: E402
from hub.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": ASGIStaticFilesHandler(django_http),
        "websocket": OriginCheck(SessionAuth(URLRouter(websocket_urlpatterns))),
    }
)
