"""Let the server send messages larger than the limit it enforces on what it receives.

Autobahn applies `maxMessagePayloadSize` to outgoing messages as well as incoming ones. The
limit is there to bound what a client can make the server buffer (docs/security.md), but a
conversation's snapshot is the server's own data and may be larger: a long chat, or pasted
documents. Past 1 MiB, autobahn refused to send it and the socket closed. Daphne's protocol
now sends any size, and only incoming messages are limited.
"""

from __future__ import annotations

from daphne.ws_protocol import WebSocketProtocol

_send_message = WebSocketProtocol.sendMessage


def send_message(self: WebSocketProtocol, payload: bytes, *args, **kwargs) -> None:
    limit = self.maxMessagePayloadSize
    if not 0 < limit < len(payload):
        return _send_message(self, payload, *args, **kwargs)
    own = "maxMessagePayloadSize" in self.__dict__  # usually the class holds it (shared_options.py)
    self.maxMessagePayloadSize = 0
    try:
        return _send_message(self, payload, *args, **kwargs)
    finally:
        if own:
            self.maxMessagePayloadSize = limit
        else:
            del self.maxMessagePayloadSize


WebSocketProtocol.sendMessage = send_message
