"""Subscriptions: a topic trie with `+` and `#` wildcards and shared subscriptions (spec 4.7, 4.8).

Matching a topic walks the trie level by level (cost proportional to the topic depth and the number of
wildcard branches, not to the number of subscriptions). Filters without wildcards (most of them: every
device's own `s/ds`) are not in the trie but in one dict keyed by the filter itself, so that an idle device's
subscription costs a dict entry rather than a trie node per level. The last results are kept in a small cache
keyed by topic name, cleared whenever a subscription changes, so a hot topic costs one dict lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, cast

from tether.mqtt.packets import RetainHandling, SubscriptionOptions
from tether.mqtt.topics import SHARE_PREFIX

from .mountpoints import PRIVATE_LEVEL

__all__ = ["InterestListener", "Matches", "SharedGroup", "Subscription", "SubscriptionTrie"]

_CACHE_SIZE = 4096


@dataclass(slots=True, eq=False)
class Subscription:
    """One subscription of one session (spec 3.8.3). ``topic_filter`` is as subscribed, `$share/` included."""

    client_id: str
    topic_filter: str
    qos: int
    no_local: bool = False
    retain_as_published: bool = False
    retain_handling: RetainHandling = RetainHandling.SEND_ON_SUBSCRIBE
    #: Subscription Identifier (spec 3.8.2.1.2), sent back with every matching PUBLISH.
    identifier: int | None = None
    #: The ShareName of a shared subscription (spec 4.8.2), else ``None``.
    share_name: str | None = None

    @classmethod
    def from_options(
        cls, client_id: str, topic_filter: str, options: SubscriptionOptions, identifier: int | None
    ) -> Subscription:
        share_name = None
        if topic_filter.startswith(SHARE_PREFIX):
            share_name = topic_filter[len(SHARE_PREFIX) :].partition("/")[0]
        return cls(
            client_id,
            topic_filter,
            options.qos,
            options.no_local,
            options.retain_as_published,
            options.retain_handling,
            identifier,
            share_name,
        )

    @property
    def options(self) -> SubscriptionOptions:
        return SubscriptionOptions(self.qos, self.no_local, self.retain_as_published, self.retain_handling)


class SharedGroup:
    """The sessions sharing ``$share/<name>/<filter>``: each message goes to one of them (spec 4.8.2)."""

    __slots__ = ("members", "name", "next_index", "order", "topic_filter")

    def __init__(self, name: str, topic_filter: str = "") -> None:
        self.name = name
        #: ``$share/<name>/<filter>``: the group's identity (the same in every node's trie).
        self.topic_filter = topic_filter
        self.members: dict[str, Subscription] = {}
        self.order: list[Subscription] = []
        self.next_index = 0

    def _reorder(self) -> None:
        self.order = list(self.members.values())
        if self.next_index >= len(self.order):
            self.next_index = 0


#: (ordinary subscriptions, shared groups) matching one topic.
Matches = tuple[list[Subscription], list[SharedGroup]]

#: ``listener(topic_filter, added)``: a filter got its first subscription (``added``) or lost its last one;
#: a shared filter (``$share/<name>/<filter>``) counts as one filter per group.
InterestListener = Callable[[str, bool], None]


#: What a node has none of: one read-only empty mapping shared by every node (writes fail loudly). Most nodes
#: are the levels of one client's mounted filter (`$client/<id>/s/ds`) and use one of their three dicts.
_NONE: dict[str, Any] = cast("dict[str, Any]", MappingProxyType({}))


class _Node:
    __slots__ = ("children", "shared", "subs")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = _NONE
        self.subs: dict[str, Subscription] = _NONE
        self.shared: dict[str, SharedGroup] = _NONE

    def empty(self) -> bool:
        return not self.children and not self.subs and not self.shared


def _exact(topic_filter: str) -> bool:
    """A filter that only matches the topic name equal to it: no wildcard, not shared (spec 4.7.1)."""
    return "+" not in topic_filter and "#" not in topic_filter and not topic_filter.startswith(SHARE_PREFIX)


def _levels(topic_filter: str) -> tuple[str | None, list[str]]:
    if topic_filter.startswith(SHARE_PREFIX):
        name, _, inner = topic_filter[len(SHARE_PREFIX) :].partition("/")
        return name, inner.split("/")
    return None, topic_filter.split("/")


class SubscriptionTrie:
    """Every subscription of every session, indexed by topic filter level."""

    __slots__ = ("_cache", "_count", "_exact", "_root", "listener")

    def __init__(self) -> None:
        self._root = _Node()
        self._count = 0
        self._cache: dict[str, Matches] = {}
        #: Told when a filter gains its first subscription or loses its last (a cluster announces this
        #: node's interest); ``None``: nobody asked.
        self.listener: InterestListener | None = None
        #: Filters without wildcards: filter -> its one subscription, or a dict client id -> subscription
        #: when more than one session subscribes to it (the usual case, one, costs no dict of its own).
        self._exact: dict[str, Subscription | dict[str, Subscription]] = {}

    def __len__(self) -> int:
        return self._count

    def add(self, sub: Subscription) -> Subscription | None:
        """Add or replace the session's subscription to the filter; returns the one it replaced, if any.

        [MQTT-3.8.4-3] a SUBSCRIBE with a filter identical to an existing subscription's replaces it.
        """
        topic_filter = sub.topic_filter
        if _exact(topic_filter):
            self._cache.clear()
            exact = self._exact
            entry = exact.get(topic_filter)
            old: Subscription | None = None
            if entry is None:
                exact[topic_filter] = sub
                if self.listener is not None:
                    self.listener(topic_filter, True)
            elif isinstance(entry, Subscription):
                if entry.client_id == sub.client_id:
                    exact[topic_filter] = sub
                    old = entry
                else:
                    exact[topic_filter] = {entry.client_id: entry, sub.client_id: sub}
            else:
                old = entry.get(sub.client_id)
                entry[sub.client_id] = sub
            if old is None:
                self._count += 1
            return old
        share, levels = _levels(sub.topic_filter)
        node = self._root
        for level in levels:
            child = node.children.get(level)
            if child is None:
                if node.children is _NONE:
                    node.children = {}
                child = node.children[level] = _Node()
            node = child
        self._cache.clear()
        first = False
        if share is None:
            old = node.subs.get(sub.client_id)
            if node.subs is _NONE:
                node.subs = {}
            first = not node.subs
            node.subs[sub.client_id] = sub
        else:
            group = node.shared.get(share)
            if group is None:
                if node.shared is _NONE:
                    node.shared = {}
                group = node.shared[share] = SharedGroup(share, sub.topic_filter)
                first = True
            old = group.members.get(sub.client_id)
            group.members[sub.client_id] = sub
            group._reorder()
        if old is None:
            self._count += 1
        if first and self.listener is not None:
            self.listener(sub.topic_filter, True)
        return old

    def remove(self, client_id: str, topic_filter: str) -> Subscription | None:
        """Remove the session's subscription to the filter; returns it, or ``None`` if there was none."""
        if _exact(topic_filter):
            return self._remove_exact(client_id, topic_filter)
        share, levels = _levels(topic_filter)
        path = [self._root]
        node = self._root
        for level in levels:
            child = node.children.get(level)
            if child is None:
                return None
            path.append(child)
            node = child
        last = False
        if share is None:
            old = node.subs.pop(client_id, None) if client_id in node.subs else None
            last = old is not None and not node.subs
        else:
            group = node.shared.get(share)
            old = group.members.pop(client_id, None) if group is not None else None
            if group is not None:
                if group.members:
                    group._reorder()
                else:
                    del node.shared[share]
                    last = True
        if old is None:
            return None
        self._count -= 1
        self._cache.clear()
        if last and self.listener is not None:
            self.listener(topic_filter, False)
        # Prune the branch bottom-up so that unused levels do not pile up.
        for i in range(len(levels), 0, -1):
            if not path[i].empty():
                break
            del path[i - 1].children[levels[i - 1]]
        return old

    def _remove_exact(self, client_id: str, topic_filter: str) -> Subscription | None:
        exact = self._exact
        entry = exact.get(topic_filter)
        if entry is None:
            return None
        if isinstance(entry, Subscription):
            if entry.client_id != client_id:
                return None
            old: Subscription | None = entry
            del exact[topic_filter]
            if self.listener is not None:
                self.listener(topic_filter, False)
        else:
            old = entry.pop(client_id, None)
            if old is None:
                return None
            if len(entry) == 1:
                exact[topic_filter] = next(iter(entry.values()))
        self._count -= 1
        self._cache.clear()
        return old

    def filters(self) -> Iterator[str]:
        """Every filter with at least one subscription (a shared one as ``$share/<name>/<filter>``)."""
        yield from self._exact
        stack: list[tuple[_Node, str]] = [(self._root, "")]
        while stack:
            node, path = stack.pop()
            if node.subs:
                yield path[1:]
            for group in node.shared.values():
                yield group.topic_filter
            for level, child in node.children.items():
                stack.append((child, f"{path}/{level}"))

    def match(self, topic: str) -> Matches:
        """The subscriptions whose filter matches the topic name (spec 4.7). Do not modify the result."""
        found = self._cache.get(topic)
        if found is not None:
            return found
        subs: list[Subscription] = []
        groups: list[SharedGroup] = []
        levels = topic.split("/")
        n = len(levels)
        # [MQTT-4.7.2-1] filters starting with a wildcard do not match topic names beginning with "$". In the
        # same way no wildcard matches the level under which clients' private topics are mounted.
        dollar = topic[:1] == "$"
        private = dollar and PRIVATE_LEVEL in levels
        stack: list[tuple[_Node, int]] = [(self._root, 0)]
        while stack:
            node, i = stack.pop()
            children = node.children
            if children:
                wild = not (dollar and (i == 0 or (private and i < n and levels[i] == PRIVATE_LEVEL)))
                if wild:
                    multi = children.get("#")
                    if multi is not None:
                        # "a/#" matches "a" and everything below it (spec 4.7.1.2).
                        if multi.subs:
                            subs.extend(multi.subs.values())
                        if multi.shared:
                            groups.extend(multi.shared.values())
                if i < n:
                    child = children.get(levels[i])
                    if child is not None:
                        stack.append((child, i + 1))
                    if wild:
                        single = children.get("+")
                        if single is not None:
                            stack.append((single, i + 1))
            if i == n:
                if node.subs:
                    subs.extend(node.subs.values())
                if node.shared:
                    groups.extend(node.shared.values())
        exact = self._exact.get(topic)
        if exact is not None:
            if isinstance(exact, Subscription):
                subs.append(exact)
            else:
                subs.extend(exact.values())
        found = (subs, groups)
        cache = self._cache
        if len(cache) >= _CACHE_SIZE:
            cache.clear()
        cache[topic] = found
        return found
