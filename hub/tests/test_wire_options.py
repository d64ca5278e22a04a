"""daphne's later sockets read the WebSocket factory's options from their class."""

import pprint

from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket import protocol as autobahn_protocol

from hub import wire


def test_later_protocols_share_the_factory_options_instead_of_copying_them(monkeypatch):
    monkeypatch.setattr(autobahn_protocol, "pformat", autobahn_protocol.pformat)
    factory = WebSocketServerFactory()
    factory.protocol = WebSocketServerProtocol

    def accept_none(offers):
        return None

    factory.setProtocolOptions(autoPingInterval=7, perMessageCompressionAccept=accept_none)
    first = factory.buildProtocol(None)
    wire._share_protocol_options(first)
    wire._share_protocol_options(factory.buildProtocol(None))  # once per factory
    second = factory.buildProtocol(None)
    assert type(second).__mro__[1] is WebSocketServerProtocol
    for name in WebSocketServerProtocol.CONFIG_ATTRS:
        assert name not in vars(second)  # autobahn's per-socket copy is skipped
    assert second.autoPingInterval == 7
    assert second.perMessageCompressionAccept([]) is None  # still a plain function
    # The debug pretty-print is made only when the line is formatted.
    shown = autobahn_protocol.pformat([("a", 1)])
    assert str(shown) == pprint.pformat([("a", 1)])
