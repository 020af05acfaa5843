"""Let daphne send the RFC 6455 close codes protocol v1 uses.

Autobahn, under daphne, refuses any server close code but 1000 and 3000-4999, although
RFC 6455 defines 1008 (policy violation: the session ended) and 1011 (server error) for
exactly this, and ASGI passes codes through. This sends those codes as a plain close frame.
"""

from __future__ import annotations

from daphne.ws_protocol import WebSocketProtocol

RFC6455_SERVER_CODES = frozenset({1001, 1008, 1011})


def server_close(self: WebSocketProtocol, code: int | None = None) -> None:
    code = 1000 if code is None else code
    if code in RFC6455_SERVER_CODES:
        self.sendCloseFrame(code=code, isReply=False)
    else:
        self.sendClose(code=code)


WebSocketProtocol.serverClose = server_close
