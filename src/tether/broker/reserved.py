"""Topic names that belong to the server: clients may not publish to them (spec 4.7.2).

"Applications cannot use a topic with a leading $ character for their own purposes" and "the Server SHOULD
prevent Clients from using such Topic Names to exchange messages with other Clients": a client's PUBLISH (or
will) whose first level starts with `$` is neither routed nor retained, except under the `$` roots the
platform gives clients on purpose: EMQX's `$emqx/things/...` and `$emqx/commands/...` (adapters/policy.py).
`$SYS` (broker information), `$tenant` (the mountpoints) and `$client` (private topics) stay the server's.
"""

from __future__ import annotations

__all__ = ["CLIENT_DOLLAR_ROOTS", "is_server_topic"]

#: `$` first levels clients may publish under (their authorization still applies).
CLIENT_DOLLAR_ROOTS = frozenset({"$emqx"})


def is_server_topic(topic: str) -> bool:
    """Whether a topic name, as the client sent it, is reserved to the server."""
    return topic[:1] == "$" and topic.partition("/")[0] not in CLIENT_DOLLAR_ROOTS
