"""Let daphne send the RFC 6455 close codes protocol v1 uses.

Autobahn, under daphne, refuses any server close code but 1000 and 3000-4999, although
RFC 6455 defines 1008 (policy violation: the session ended) and 1011 (server error) for
exactly this, and ASGI passes codes through. This sends those codes as a plain close frame.

Autobahn also fails a connection by dropping TCP (`failByDrop`), so a frame over daphne's
--websocket-max-message-size reached the client as 1006 with no reason. Failing with a close
frame sends 1009 (1007 for invalid UTF-8); the rest of the refused frame is read and discarded.
"""

from __future__ import annotations

from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol

RFC6455_SERVER_CODES = frozenset({1001, 1008, 1011})


def server_close(self: WebSocketProtocol, code: int | None = None) -> None:
    code = 1000 if code is None else code
    if code in RFC6455_SERVER_CODES:
        self.sendCloseFrame(code=code, isReply=False)
    else:
        self.sendClose(code=code)


WebSocketProtocol.serverClose = server_close


_factory_init = WebSocketFactory.__init__


def factory_init(self: WebSocketFactory, *args, **kwargs) -> None:
    _factory_init(self, *args, **kwargs)
    self.setProtocolOptions(failByDrop=False)  # daphne's own options, set later, leave this alone


WebSocketFactory.__init__ = factory_init
