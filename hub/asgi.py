"""The ASGI shapes the hub's middleware and wires are typed against.

Plain dicts, as Channels and every ASGI server pass them; asgiref's TypedDicts
demand keys (`subprotocol`, `bytes`) that real messages leave out.
"""

from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
