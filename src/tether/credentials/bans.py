"""Bans (EMQX 5 `/api/v5/banned`, docs/protocols.md section 8): a ClientId, a user name or an address of a
tenant's clients, exactly, by regular expression or by network, until a time or for ever; what a ban matches.
The service that keeps them: :mod:`.banning`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

from tether.core.errors import BadRequest

__all__ = ["R_BANNED", "Ban", "BanFilter", "BanKind", "Candidate", "validate"]

R_BANNED = "banned"
MAX_WHO_LENGTH = 255


class BanKind(StrEnum):
    """EMQX's `as`: what `who` names."""

    CLIENTID = "clientid"
    USERNAME = "username"
    PEERHOST = "peerhost"
    CLIENTID_RE = "clientid_re"
    USERNAME_RE = "username_re"
    PEERHOST_NET = "peerhost_net"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A client at CONNECT (or connected) as bans see it: its ClientId, user names (the one it sent and its
    name inside the tenant) and address."""

    client_id: str
    usernames: tuple[str, ...]
    host: str | None


@dataclass(frozen=True)
class Ban:
    tenant_id: str
    kind: BanKind
    who: str
    by: str
    reason: str
    at: int  # ms since the epoch
    until: int | None  # ms since the epoch; None: for ever

    def expired(self, now: int) -> bool:
        return self.until is not None and self.until <= now

    @cached_property
    def _pattern(self) -> re.Pattern[str] | None:
        return re.compile(self.who) if self.kind in (BanKind.CLIENTID_RE, BanKind.USERNAME_RE) else None

    @cached_property
    def _network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
        return ipaddress.ip_network(self.who) if self.kind is BanKind.PEERHOST_NET else None

    def matches(self, client: Candidate) -> bool:
        kind = self.kind
        if kind is BanKind.CLIENTID:
            return client.client_id == self.who
        if kind is BanKind.USERNAME:
            return self.who in client.usernames
        if kind is BanKind.PEERHOST:
            return client.host is not None and _same_address(client.host, self.who)
        if kind is BanKind.PEERHOST_NET:
            return client.host is not None and _in_network(client.host, self._network)
        pattern = self._pattern
        assert pattern is not None
        if kind is BanKind.CLIENTID_RE:
            return pattern.search(client.client_id) is not None
        return any(pattern.search(name) is not None for name in client.usernames)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:10.0.0.1 (a dual-stack listener) is 10.0.0.1
    return address


def _same_address(host: str, who: str) -> bool:
    address = _address(host)
    return address is not None and address == _address(who)


def _in_network(host: str, network: ipaddress.IPv4Network | ipaddress.IPv6Network | None) -> bool:
    address = _address(host)
    return address is not None and network is not None and address in network


def validate(kind: BanKind, who: str) -> str:
    """The canonical `who` of a new ban (an address or network as Python writes it); BadRequest if invalid."""
    if not who or len(who) > MAX_WHO_LENGTH:
        raise BadRequest(f"'who' must be 1..{MAX_WHO_LENGTH} characters", resource=R_BANNED)
    try:
        if kind is BanKind.PEERHOST:
            return str(ipaddress.ip_address(who))
        if kind is BanKind.PEERHOST_NET:
            return str(ipaddress.ip_network(who))
        if kind in (BanKind.CLIENTID_RE, BanKind.USERNAME_RE):
            re.compile(who)
    except (ValueError, re.error) as exc:
        raise BadRequest(f"Invalid {kind.value}: {who!r} ({exc})", resource=R_BANNED) from None
    return who


@dataclass(frozen=True, slots=True)
class BanFilter:
    """`GET /banned`'s one filter: `like` (substring) or exact `who`, of one kind; for PEERHOST_NET, `who`
    is an address or network and the bans whose network overlaps it are kept."""

    kind: BanKind | None = None
    who: str | None = None
    like: bool = False

    def keeps(self, ban: Ban) -> bool:
        if self.kind is None or self.who is None:
            return True
        if ban.kind is not self.kind:
            return False
        if self.kind is BanKind.PEERHOST_NET:
            try:
                return ipaddress.ip_network(self.who, strict=False).overlaps(ipaddress.ip_network(ban.who))
            except (ValueError, TypeError):
                return False
        return self.who in ban.who if self.like else self.who == ban.who
