"""Password changes made by another process (`tether admin set-password` beside a running server).

TenantService caches verified credentials for a minute so that HTTP Basic on every request and MQTT connect
storms stay cheap. Every server polls the users' `password_changed` column once per INTERVAL (one indexed
query) and forgets the cached verifications of a user whose password changed: the old password stops
working within INTERVAL. MQTT connections it already opened stay open until they reconnect. The same poll
reads which tenants are suspended or deleted (one more query), so a suspension made on another server
refuses logins here and closes this server's connections of that tenant within INTERVAL too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from tether.tenants.service import TenantService
from tether.tenants.store import UserStore

log = logging.getLogger("tether.tenants")


class PasswordChangeWatch:
    INTERVAL = 1.0

    def __init__(self, users: UserStore, tenants: TenantService, interval: float = INTERVAL) -> None:
        self._users = users
        self._tenants = tenants
        self._interval = interval
        self._since = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._since = await self._users.last_password_change()
        self._task = asyncio.create_task(self._run(), name="password-change-watch")

    async def poll(self) -> None:
        """Forget the cached verifications of every user whose password changed since the last poll."""
        for tenant_id, username, changed in await self._users.password_changes(self._since):
            self._tenants.forget_here(tenant_id, username)  # every server polls: nobody to tell
            self._since = max(self._since, changed)
        # Tenants another server suspended or deleted: their logins are refused here too, sessions end.
        await self._tenants.refresh_status()

    async def _run(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.poll()
            except Exception as exc:  # the database is away for a moment: try again, log once
                if not failing:
                    log.warning("cannot read password changes: %s", exc)
                failing = True
                continue
            failing = False

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
