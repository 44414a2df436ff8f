"""Cumulocity real-time notifications (Bayeux / CometD 1.0), independent of HTTP and WebSocket.

`Hub` subscribes to the EventBus and fans domain events out to client sessions; `Conversation` speaks the
Bayeux meta channels over it for one transport; `ReadRights` and `View` hold every subscription and every
message to the REST read rules. The Starlette routes live in tether.api.c8y.realtime.
"""

from tether.realtime.access import ReadRights, View
from tether.realtime.bayeux import (
    Conversation,
    MalformedBatch,
    PendingConnect,
    TokenAuthenticator,
    decode,
    ext_token,
)
from tether.realtime.channels import Endpoint, InvalidChannel
from tether.realtime.errors import BayeuxError
from tether.realtime.hub import Hub, Renderer
from tether.realtime.sessions import Message, Session

__all__ = [
    "BayeuxError",
    "Conversation",
    "Endpoint",
    "Hub",
    "InvalidChannel",
    "MalformedBatch",
    "Message",
    "PendingConnect",
    "ReadRights",
    "Renderer",
    "Session",
    "TokenAuthenticator",
    "View",
    "decode",
    "ext_token",
]
