"""Readiness: /health answers 200 once every listener has bound its socket."""

from __future__ import annotations


class Readiness:
    def __init__(self, listeners: list[str]) -> None:
        self._pending = set(listeners)
        self.addresses: dict[str, str] = {}

    def mark_ready(self, listener: str, address: str) -> None:
        self._pending.discard(listener)
        self.addresses[listener] = address

    @property
    def ready(self) -> bool:
        return not self._pending

    @property
    def pending(self) -> list[str]:
        return sorted(self._pending)
