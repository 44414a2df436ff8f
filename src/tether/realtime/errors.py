"""Bayeux errors: `code:args:message` strings (Bayeux 1.0 section 3.12) with optional reconnect advice."""

from __future__ import annotations

from typing import Literal

Reconnect = Literal["retry", "handshake", "none"]


class BayeuxError(Exception):
    """A message that cannot be served; the reply carries `successful: false` and `error`."""

    def __init__(self, code: int, message: str, *, reconnect: Reconnect | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reconnect = reconnect

    @property
    def error(self) -> str:
        return f"{self.code}::{self.message}"


def unknown_client() -> BayeuxError:
    """The clientId is missing, expired, of another user or of another endpoint: handshake again."""
    return BayeuxError(402, "Unknown client", reconnect="handshake")


def bad_message(message: str) -> BayeuxError:
    return BayeuxError(400, message)


def unauthorized() -> BayeuxError:
    return BayeuxError(401, "Unauthorized", reconnect="none")


def forbidden() -> BayeuxError:
    return BayeuxError(403, "Forbidden", reconnect="none")


def not_readable(channel: str) -> BayeuxError:
    """A subscription to an object the subscriber may not read through REST; the session stays usable."""
    return BayeuxError(403, f"Forbidden: no read access to {channel}")
