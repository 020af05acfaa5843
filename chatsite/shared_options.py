"""Keep autobahn's protocol options on the class, not copied into every connection.

On each handshake autobahn copies its ~30 protocol options (timeouts, limits, flags) from the
factory onto the new protocol instance unless the instance already has them, so every idle
socket carried its own copy in a larger instance dict. Daphne runs one factory per server, so
once it has set its options they are put on daphne's protocol class, where every connection
reads them and none copies them. An instance that sets an option still gets its own value.
"""

from __future__ import annotations

from autobahn.websocket.protocol import WebSocketServerFactory
from daphne.ws_protocol import WebSocketFactory

_set_protocol_options = WebSocketServerFactory.setProtocolOptions


def set_protocol_options(self: WebSocketFactory, *args, **kwargs) -> None:
    _set_protocol_options(self, *args, **kwargs)
    for name in self.protocol.CONFIG_ATTRS:
        value = getattr(self, name)
        if not callable(value):  # a function on the class would become a method: leave those per instance
            setattr(self.protocol, name, value)


WebSocketFactory.setProtocolOptions = set_protocol_options
