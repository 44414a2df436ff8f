"""Retained messages (spec 3.3.1.3): the last retained message per topic, found by topic filter.

Stored in a tree of topic levels so that a subscription with wildcards visits only the matching branches.
"""

from __future__ import annotations

from collections.abc import Iterator

from .message import Message

__all__ = ["RetainedStore"]


class _Node:
    __slots__ = ("children", "message")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.message: Message | None = None


class RetainedStore:
    """At most one retained message per topic name, at most ``limit`` topics."""

    __slots__ = ("_count", "_root", "limit")

    def __init__(self, limit: int = 1_000_000) -> None:
        self._root = _Node()
        self._count = 0
        self.limit = limit

    def __len__(self) -> int:
        return self._count

    def set(self, message: Message) -> bool:
        """Store (or with an empty payload, delete) the retained message of its topic.

        [MQTT-3.3.1-5] a RETAIN PUBLISH replaces any retained message of the topic; [MQTT-3.3.1-6] a zero
        byte payload removes it and is not stored. Returns ``False`` if the store is full.
        """
        levels = message.topic.split("/")
        if not len(message.payload):
            self.delete(message.topic)
            return True
        node = self._root
        for level in levels:
            child = node.children.get(level)
            if child is None:
                child = node.children[level] = _Node()
            node = child
        if node.message is None:
            if self._count >= self.limit:
                self._prune(levels)
                return False
            self._count += 1
        node.message = message
        return True

    def delete(self, topic: str) -> None:
        levels = topic.split("/")
        node = self._root
        for level in levels:
            child = node.children.get(level)
            if child is None:
                return
            node = child
        if node.message is not None:
            node.message = None
            self._count -= 1
            self._prune(levels)

    def _prune(self, levels: list[str]) -> None:
        path = [self._root]
        for level in levels:
            child = path[-1].children.get(level)
            if child is None:
                return
            path.append(child)
        for i in range(len(levels), 0, -1):
            node = path[i]
            if node.children or node.message is not None:
                break
            del path[i - 1].children[levels[i - 1]]

    def get(self, topic: str) -> Message | None:
        node: _Node | None = self._root
        for level in topic.split("/"):
            node = node.children.get(level) if node is not None else None
        return node.message if node is not None else None

    def match(self, topic_filter: str, now: float) -> list[Message]:
        """Retained messages whose topic matches the (non-shared) filter; expired ones are deleted.

        [MQTT-4.7.2-1] a filter starting with a wildcard does not match topics beginning with "$".
        """
        levels = topic_filter.split("/")
        n = len(levels)
        found: list[Message] = []
        stack: list[tuple[_Node, int]] = [(self._root, 0)]
        while stack:
            node, i = stack.pop()
            if i == n:
                if node.message is not None:
                    found.append(node.message)
                continue
            level = levels[i]
            if level == "#":
                # "a/#" also matches "a" itself (spec 4.7.1.2).
                if node.message is not None and i > 0:
                    found.append(node.message)
                found.extend(self._subtree(node, skip_dollar=i == 0))
            elif level == "+":
                for name, child in node.children.items():
                    if i == 0 and name[:1] == "$":
                        continue
                    stack.append((child, i + 1))
            else:
                exact = node.children.get(level)
                if exact is not None:
                    stack.append((exact, i + 1))
        live = []
        for message in found:
            if message.expired(now):
                # spec 3.3.2.3.3: once expired, a retained message is no longer sent to new subscribers.
                self.delete(message.topic)
            else:
                live.append(message)
        return live

    def _subtree(self, node: _Node, skip_dollar: bool) -> Iterator[Message]:
        stack = [child for name, child in node.children.items() if not (skip_dollar and name[:1] == "$")]
        while stack:
            current = stack.pop()
            if current.message is not None:
                yield current.message
            stack.extend(current.children.values())

    def messages(self) -> Iterator[Message]:
        """Every retained message (for persistence)."""
        return self._subtree(self._root, skip_dollar=False)
