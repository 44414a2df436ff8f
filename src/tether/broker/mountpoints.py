"""Mountpoints: a client's topic namespace inside the broker (like EMQX's listener ``mountpoint``).

A client authenticated with a mountpoint (``$tenant/t1/``) publishes and subscribes in a namespace of its own:
each topic name and filter it sends is prefixed on the way in and the prefix is stripped on the way out, so
two tenants can use the same topics and client identifiers without ever meeting. Topics whose first level is
one of the client's *private roots* (SmartREST's ``s``, ``t``, ...) are mounted one level deeper, at
``<mountpoint>$client/<client id>/``: such topics are implicitly the connected device's own.

Shared subscriptions keep their prefix outside: ``$share/g/f`` becomes ``$share/g/<mount>f``.
"""

from __future__ import annotations

__all__ = ["PRIVATE_LEVEL", "Mount", "client_prefix"]

#: The level under a mountpoint where clients' private topics live. Like a topic level starting with `$` at
#: the top (spec 4.7.2), it is never matched by a wildcard: a tenant-wide `#` does not see them.
PRIVATE_LEVEL = "$client"

_SHARE = "$share/"
# Characters of a client identifier that would change the meaning of a topic level.
_ESCAPES = str.maketrans({"%": "%25", "/": "%2F", "+": "%2B", "#": "%23"})


def _needs_escape(client_id: str) -> bool:
    return "%" in client_id or "/" in client_id or "+" in client_id or "#" in client_id


def client_prefix(mountpoint: str, client_id: str) -> str:
    """Where the private topics of `client_id` under `mountpoint` live."""
    escaped = client_id.translate(_ESCAPES) if _needs_escape(client_id) else client_id
    return f"{mountpoint}{PRIVATE_LEVEL}/{escaped}/"


class Mount:
    """The mapping between one client's topics and the broker's.

    The last topic name mapped each way is kept (:meth:`name_in`, :meth:`name_out`): a device publishes to
    and receives on a few topics over and over, so most messages find their mapping there, and the mounted
    string being the same object each time, its hash (the subscription dict, the rule engine's tap, the
    encoder's topic cache) is computed once. The mapping depends on nothing but the topic and this mount,
    which never changes, so the kept pairs are never stale.
    """

    __slots__ = ("_last_in", "_last_out", "escaped", "prefix", "roots")

    def __init__(self, prefix: str, client_id: str, roots: frozenset[str] = frozenset()) -> None:
        self.prefix = prefix
        self.roots = roots
        # The client id as a topic level: the id's own string unless it holds a character to escape (the
        # private prefix is built when used, ~50 ns, not kept: an idle device would hold ~80 bytes for it).
        self.escaped = client_id.translate(_ESCAPES) if _needs_escape(client_id) else client_id
        # (client's topic name, broker's, its first level) of the last PUBLISH in; (broker's topic name,
        # client's) of the last copy out. None until the first.
        self._last_in: tuple[str, str, str] | None = None
        self._last_out: tuple[str, str] | None = None

    @property
    def private(self) -> str:
        """Where this client's private topics live (its mountpoint itself when it has no private roots)."""
        return f"{self.prefix}{PRIVATE_LEVEL}/{self.escaped}/" if self.roots else self.prefix

    def topic(self, topic: str) -> str:
        """A topic name or (non-shared) filter as the client sent it -> the broker's."""
        roots = self.roots
        if roots and topic.partition("/")[0] in roots:
            return f"{self.prefix}{PRIVATE_LEVEL}/{self.escaped}/{topic}"
        return self.prefix + topic

    def name_in(self, topic: str) -> tuple[str, str, str]:
        """A topic name of a PUBLISH as the client sent it -> (it, the broker's, its first level as sent):
        the kept tuple itself when it is the last one (nothing allocated)."""
        last = self._last_in
        if last is not None and last[0] == topic:
            return last
        last = self._last_in = (topic, self.topic(topic), topic.partition("/")[0])
        return last

    def name_out(self, topic: str) -> str:
        """A topic name of a message for this client: :meth:`unmount`, the last one kept."""
        last = self._last_out
        if last is not None and last[0] == topic:
            return last[1]
        unmounted = self.unmount(topic)
        self._last_out = (topic, unmounted)
        return unmounted

    def filter(self, topic_filter: str) -> str:
        """A topic filter as the client sent it (``$share/...`` included) -> the broker's."""
        if topic_filter.startswith(_SHARE):
            group, _, rest = topic_filter[len(_SHARE) :].partition("/")
            return f"{_SHARE}{group}/{self.topic(rest)}"
        return self.topic(topic_filter)

    def unmount_filter(self, topic_filter: str) -> str:
        """The broker's filter -> as the client sent it (the inverse of :meth:`filter`)."""
        if topic_filter.startswith(_SHARE):
            group, _, rest = topic_filter[len(_SHARE) :].partition("/")
            return f"{_SHARE}{group}/{self.unmount(rest)}"
        return self.unmount(topic_filter)

    def unmount(self, topic: str) -> str:
        """The broker's topic name -> as this client sees it."""
        prefix = self.prefix
        if self.roots:
            private = f"{prefix}{PRIVATE_LEVEL}/{self.escaped}/"
            if topic.startswith(private):
                return topic[len(private) :]
        return topic[len(prefix) :] if topic.startswith(prefix) else topic
