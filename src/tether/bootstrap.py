"""The composition root: the one module that knows every concrete class and wires them together."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import ASGIApp

from tether.api.app import create_app
from tether.api.context import ApiContext
from tether.config import ConfigError, Settings
from tether.core.events import EventBus
from tether.health import Readiness
from tether.identity.service import IdentityService
from tether.inventory.service import InventoryService
from tether.storage.postgresql import PostgresDialect, postgresql_url
from tether.storage.sql.storage import SqlStorage
from tether.storage.sqlite import SqliteDialect, sqlite_url
from tether.tenants.service import Provisioned, TenantService


@dataclass
class Platform:
    settings: Settings
    storage: SqlStorage
    tenants: TenantService
    inventory: InventoryService
    identity: IdentityService
    readiness: Readiness
    events: EventBus
    app: ASGIApp
    provisioned: Provisioned

    async def close(self) -> None:
        await self.storage.close()


def open_storage(database_url: str) -> SqlStorage:
    if database_url.startswith("sqlite"):
        return SqlStorage(SqliteDialect(sqlite_url(database_url)))
    if database_url.startswith(("postgresql", "postgres:")):
        return SqlStorage(PostgresDialect(postgresql_url(database_url)))
    raise ConfigError(f"unsupported database URL {database_url!r}: use sqlite:///FILE or postgresql://...")


async def build_platform(settings: Settings, listeners: list[str]) -> Platform:
    """Open storage (applying migrations), provision first-start users and build every service.

    `listeners` names what /health waits for; the servers mark themselves ready as they bind.
    The MQTT broker joins here as one more listener and one more consumer of the services.
    """
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    storage = open_storage(settings.effective_database_url)
    await storage.open()
    tenants = TenantService(storage.tenants, storage.users)
    provisioned = await tenants.provision(
        settings.tenant, settings.admin_user, settings.admin_password, settings.bootstrap_password
    )
    events = EventBus()
    inventory = InventoryService(storage.managed_objects, events)
    identity = IdentityService(storage.external_ids, inventory)
    readiness = Readiness(listeners)
    context = ApiContext(
        settings=settings, tenants=tenants, inventory=inventory, identity=identity, readiness=readiness
    )
    return Platform(
        settings=settings,
        storage=storage,
        tenants=tenants,
        inventory=inventory,
        identity=identity,
        readiness=readiness,
        events=events,
        app=create_app(context),
        provisioned=provisioned,
    )
