"""Banned clients (EMQX 5 `/api/v5/banned`, docs/protocols.md section 8): an operator bans a ClientId, a user
name or an address of its tenant's clients until a time or for ever (:mod:`.bans`). A banned client is refused
at CONNECT (0x8A Banned; MQTT 3.1.1: 5, adapters/access.py) and a connected one is kicked (adapters/bans.py).

Bans are kept in the database and, all of them, in memory (loaded at start): the broker asks at every CONNECT
and a connect storm must not become a query storm. In a cluster every node keeps them so: `changed(tenant)`
tells the others, who :meth:`BanService.reload` that tenant's (cluster/invalidation.py).
"""

from __future__ import annotations

from collections.abc import Callable

from tether.core.clock import now_ms
from tether.core.errors import BadRequest, Conflict, NotFound
from tether.credentials.bans import R_BANNED, Ban, BanFilter, BanKind, Candidate, validate
from tether.credentials.models import require_admin
from tether.credentials.store import BanStore
from tether.tenants.models import Principal

__all__ = ["BanService"]


class BanService:
    def __init__(self, store: BanStore, clock: Callable[[], int] = now_ms) -> None:
        self.store = store
        self.clock = clock  # ms since the epoch
        #: Every tenant's bans by (kind, who); expired ones stay until replaced or deleted.
        self._bans: dict[str, dict[tuple[BanKind, str], Ban]] = {}
        #: Told the tenant whose bans changed here (set by the composition root in a cluster).
        self.changed: Callable[[str], None] = lambda tenant_id: None

    async def load(self) -> None:
        """Read every tenant's bans (at start)."""
        bans: dict[str, dict[tuple[BanKind, str], Ban]] = {}
        for ban in await self.store.all():
            bans.setdefault(ban.tenant_id, {})[(ban.kind, ban.who)] = ban
        self._bans = bans

    async def reload(self, tenant_id: str) -> list[Ban]:
        """Read one tenant's bans again (another node changed them); returns those in force."""
        fresh = {(b.kind, b.who): b for b in await self.store.all() if b.tenant_id == tenant_id}
        if fresh:
            self._bans[tenant_id] = fresh
        else:
            self._bans.pop(tenant_id, None)
        now = self.clock()
        return [ban for ban in fresh.values() if not ban.expired(now)]

    # ------------------------------------------------------------------------------------------ the broker

    @property
    def any(self) -> bool:
        """Whether any tenant has a ban (expired ones included): when none has, CONNECT skips the check."""
        return bool(self._bans)

    def banned(self, tenant_id: str, client: Candidate) -> Ban | None:
        """The ban (in force) of the tenant that refuses this client, if any: no storage access."""
        bans = self._bans.get(tenant_id)
        if not bans:
            return None
        now = self.clock()
        for ban in bans.values():
            if not ban.expired(now) and ban.matches(client):
                return ban
        return None

    def in_force(self) -> list[Ban]:
        """Every tenant's bans in force."""
        now = self.clock()
        return [ban for bans in self._bans.values() for ban in bans.values() if not ban.expired(now)]

    # ------------------------------------------------------------------------------------------ operators

    def find(self, who: Principal, criteria: BanFilter) -> list[Ban]:
        """The tenant's bans in force, oldest first."""
        require_admin(who)
        now = self.clock()
        bans = self._bans.get(who.tenant_id, {}).values()
        return sorted(
            (b for b in bans if not b.expired(now) and criteria.keeps(b)),
            key=lambda b: (b.at, b.kind.value, b.who),
        )

    async def create(
        self,
        who: Principal,
        kind: BanKind,
        subject: str,
        *,
        by: str,
        reason: str,
        at: int | None = None,
        until: int | None = None,
    ) -> Ban:
        """Conflict when the tenant bans this already; BadRequest for an invalid subject or a ban that ended
        before it would be created."""
        require_admin(who)
        now = self.clock()
        ban = Ban(who.tenant_id, kind, validate(kind, subject), by, reason, now if at is None else at, until)
        if ban.expired(now):
            raise BadRequest("Cannot create a ban that has already expired", resource=R_BANNED)
        bans = self._bans.setdefault(who.tenant_id, {})
        old = bans.get((kind, ban.who))
        if old is not None:
            if not old.expired(now):
                raise Conflict(f"{kind.value} {ban.who!r} is banned already", resource=R_BANNED)
            await self.store.delete(who.tenant_id, kind, ban.who)
            bans.pop((kind, ban.who), None)
        await self.store.create(ban)
        self._bans.setdefault(who.tenant_id, {})[(kind, ban.who)] = ban  # (reloaded meanwhile: a new dict)
        self.changed(who.tenant_id)
        return ban

    async def delete(self, who: Principal, kind: BanKind, subject: str) -> None:
        require_admin(who)
        bans = self._bans.get(who.tenant_id, {})
        if bans.pop((kind, subject), None) is None:
            raise NotFound(f"{kind.value} {subject!r} is not banned", resource=R_BANNED)
        if not bans:
            self._bans.pop(who.tenant_id, None)
        await self.store.delete(who.tenant_id, kind, subject)
        self.changed(who.tenant_id)

    async def clear(self, who: Principal) -> None:
        """Lift every ban of the tenant."""
        require_admin(who)
        self._bans.pop(who.tenant_id, None)
        await self.store.clear(who.tenant_id)
        self.changed(who.tenant_id)
