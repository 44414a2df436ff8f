"""`tether admin`: operator commands on the configured database, with the server stopped or running.

SQLite in WAL mode and PostgreSQL both let a second process write while `tether serve` runs: a running
server reads a user's password hash from the database whenever a credential is not in its cache of
recently verified ones (TenantService.CACHE_SECONDS), so a new password works at once.
"""

from __future__ import annotations

import getpass
import sys
from typing import TextIO

from tether.bootstrap import open_storage
from tether.config import Settings
from tether.core.errors import Conflict
from tether.tenants.models import Role
from tether.tenants.service import TenantService


class AdminError(Exception):
    """A refused operator command (exit status 1), e.g. an unknown user."""


def read_password(stdin: TextIO | None = None) -> str:
    """The new password: asked twice with getpass on a terminal, else the first line of stdin."""
    stdin = sys.stdin if stdin is None else stdin
    if stdin.isatty():
        password = getpass.getpass("New password: ")
        if getpass.getpass("Repeat it: ") != password:
            raise AdminError("the passwords do not match")
    else:
        password = stdin.readline().rstrip("\r\n")
    if not password:
        raise AdminError("the password is empty")
    return password


async def set_password(settings: Settings, tenant_id: str, username: str, password: str) -> str:
    storage = open_storage(_url(settings))
    await storage.open()
    try:
        tenants = TenantService(storage.tenants, storage.users, groups=storage.groups)
        if not await tenants.set_password(tenant_id, username, password):
            raise AdminError(f"no user {tenant_id}/{username}")
    finally:
        await storage.close()
    return f"Changed the password of {tenant_id}/{username}"


async def create_user(settings: Settings, tenant_id: str, username: str, role: Role, password: str) -> str:
    storage = open_storage(_url(settings))
    await storage.open()
    try:
        tenants = TenantService(storage.tenants, storage.users, groups=storage.groups)
        created_tenant = await tenants.get_tenant(tenant_id) is None
        if created_tenant:
            await tenants.create_tenant(tenant_id)
        try:
            await tenants.create_user(tenant_id, username, password, {role})
        except Conflict:
            raise AdminError(
                f"user {tenant_id}/{username} exists (`tether admin set-password` changes its password)"
            ) from None
    finally:
        await storage.close()
    tenant_note = f" in the new tenant {tenant_id}" if created_tenant else ""
    return f"Created user {tenant_id}/{username} with role {role}{tenant_note}"


def _url(settings: Settings) -> str:
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings.effective_database_url
