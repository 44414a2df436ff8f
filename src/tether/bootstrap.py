"""The composition root: the one module that knows every concrete class and wires them together."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.types import ASGIApp

from tether.adapters import fleets as fleets_adapter
from tether.adapters import presence_feed, revocation, smartrest
from tether.adapters import xyte as xyte_adapter
from tether.adapters.access import PlatformHooks
from tether.adapters.control import BrokerControl
from tether.adapters.device_bootstrap import DeviceBootstrap
from tether.adapters.rules import RuleEngine
from tether.api.app import create_app
from tether.audit.service import AuditService
from tether.binaries.service import BinaryService
from tether.broker import Broker, BrokerConfig, DefaultHooks
from tether.c8y import render
from tether.cluster import ClusterNode
from tether.cluster import admin as cluster_admin
from tether.cluster import routing as cluster_routing
from tether.cluster import sessions as cluster_sessions
from tether.cluster import wills as cluster_wills
from tether.cluster.admin import ClusterControl
from tether.cluster.events import ClusterEvents
from tether.cluster.leader import Duty, Leadership
from tether.config import ConfigError, Settings
from tether.connectors.manager import SinkManager
from tether.core.events import EventBus
from tether.credentials.api_keys import ApiKeyService
from tether.credentials.authorization import AclService
from tether.credentials.banning import BanService
from tether.credentials.certificates import TrustedCertificateService
from tether.credentials.mqtt_users import MqttUserService
from tether.fleets.catalog import Catalog
from tether.fleets.commands import CommandService
from tether.fleets.job_service import JobService
from tether.fleets.job_targets import Targeting
from tether.fleets.shadows import ShadowService
from tether.fleets.things import ThingService
from tether.health import Readiness
from tether.identity.service import IdentityService
from tether.inventory.service import InventoryService
from tether.monitoring import DatabaseProbe, Monitoring
from tether.monitoring.sys_topics import SysTopics
from tether.operations.bulk_service import BulkOperationService
from tether.operations.service import OperationService
from tether.presence.models import PresenceSettings
from tether.presence.service import PresenceService
from tether.realtime import Hub
from tether.realtime.hub import Renderer
from tether.registration.retirement import DeviceRetirement
from tether.registration.service import RegistrationService
from tether.registration.xyte import XyteService
from tether.retention.service import RetentionService
from tether.rules.connector_service import ConnectorService
from tether.rules.service import RuleService
from tether.services import Services
from tether.storage.files import FileBinaryStore
from tether.storage.postgresql import PostgresDialect, postgresql_url
from tether.storage.sql.storage import SqlStorage
from tether.storage.sqlite import SqliteDialect, sqlite_url
from tether.telemetry.alarms import AlarmService
from tether.telemetry.events import EventService
from tether.telemetry.measurements import MeasurementService
from tether.tenants.directory import UserDirectory
from tether.tenants.inventory_roles import InventoryRoleService
from tether.tenants.management import TenantAdministration
from tether.tenants.option_crypto import OptionCipher
from tether.tenants.options import OptionService
from tether.tenants.revocation import PasswordChangeWatch
from tether.tenants.service import Provisioned, TenantService
from tether.tenants.statistics import UsageStatistics
from tether.tenants.throttle import Throttle
from tether.tenants.tokens import OperatorTokens

# How the real-time hub shows each resource (the Cumulocity REST rendering).
RENDERERS: dict[str, Renderer] = {
    "managedobjects": render.managed_object,
    "measurements": render.measurement,
    "events": render.event,
    "alarms": render.alarm,
    "operations": render.operation,
}

#: SmartREST ingest writes in flight at once per node, by database (adapters/smartrest/ingest.py): SQLite
#: writes in one thread, so one at a time; PostgreSQL stores one batch while the event loop parses the
#: next (bench/README.md, Issue 20).
INGEST_WRITES_IN_FLIGHT = {"sqlite": 1, "postgresql": 2}


@dataclass
class Platform:
    """What `tether serve` runs: the storage, the services over it and the HTTP application."""

    storage: SqlStorage
    services: Services
    app: ASGIApp
    provisioned: Provisioned
    password_watch: PasswordChangeWatch
    #: In a cluster: the event bus's link to the other nodes, and the leader election (docs/cluster.md).
    cluster_events: ClusterEvents | None = None
    leadership: Leadership | None = None

    @property
    def settings(self) -> Settings:
        return self.services.settings

    async def close(self) -> None:
        if self.leadership is not None:
            await self.leadership.close()
        if self.cluster_events is not None:
            await self.cluster_events.close()
        self.services.realtime.close()
        await self.services.bulk_operations.close()
        await self.services.presence.close()
        await self.services.audit.close()
        await self.services.retention.close()
        await self.password_watch.close()
        await self.storage.close()


def open_storage(database_url: str) -> SqlStorage:
    if database_url.startswith("sqlite"):
        return SqlStorage(SqliteDialect(sqlite_url(database_url)))
    if database_url.startswith(("postgresql", "postgres:")):
        return SqlStorage(PostgresDialect(postgresql_url(database_url)))
    raise ConfigError(f"unsupported database URL {database_url!r}: use sqlite:///FILE or postgresql://...")


def build_services(
    settings: Settings, storage: SqlStorage, listeners: list[str], cluster: ClusterNode | None = None
) -> Services:
    """Every service over one opened storage; `listeners` names what /health waits for; `cluster`: this
    node, in a cluster."""
    events = EventBus()
    audit = AuditService(storage.audit)
    audit.follow(events)  # operation and alarm changes
    inventory_roles = InventoryRoleService(storage.inventory_roles)
    tenants = TenantService(storage.tenants, storage.users, events, storage.groups, audit, inventory_roles)
    inventory = InventoryService(storage.managed_objects, events)
    identity = IdentityService(storage.external_ids, inventory)
    operations = OperationService(storage.operations, storage.managed_objects, events)
    realtime = Hub(events, RENDERERS)
    alarms = AlarmService(storage.alarms, inventory, events)
    device_events = EventService(storage.events, inventory, events)
    files = FileBinaryStore(settings.effective_binaries_dir)
    files.open()
    presence_settings = PresenceSettings(
        history_days=settings.presence_history_days,
        check_interval=settings.presence_check_interval,
        offline_grace=settings.presence_offline_grace,
    )
    things = ThingService(inventory, identity, tenants, Catalog(inventory, identity), events)
    monitoring = Monitoring(DatabaseProbe(storage.database))
    if cluster is not None:
        monitoring.node = cluster.name
    rules = RuleService(storage.rules)
    # The management API's hold on the broker: this node's, or every node's in a cluster.
    control = (
        BrokerControl(monitoring.stats, monitoring.node)
        if cluster is None
        else ClusterControl(cluster, monitoring.stats)
    )
    connectors = ConnectorService(storage.connectors, rules)
    sinks = SinkManager(connectors, settings.data_dir / "sinks")
    binaries = BinaryService(files, inventory, device_events, events, settings.max_binary_size)
    return Services(
        settings=settings,
        events=events,
        readiness=Readiness(listeners),
        realtime=realtime,
        broker=control,
        tenants=tenants,
        users=UserDirectory(tenants, storage.users, storage.groups, audit),
        throttle=Throttle(),
        inventory=inventory,
        identity=identity,
        operations=operations,
        bulk_operations=BulkOperationService(storage.bulk_operations, operations, storage.managed_objects),
        registration=RegistrationService(storage.device_requests, tenants),
        retirement=DeviceRetirement(inventory, tenants),
        measurements=MeasurementService(storage.measurements, inventory, events),
        device_events=device_events,
        alarms=alarms,
        xyte=XyteService(storage.xyte, inventory, identity, operations, events),
        api_keys=ApiKeyService(storage.api_keys),
        mqtt_users=MqttUserService(storage.mqtt_users),
        acl=AclService(storage.acl_rules),
        certificates=TrustedCertificateService(storage.trusted_certificates),
        bans=BanService(storage.bans),
        tokens=OperatorTokens(tenants, storage.operator_tokens),
        things=things,
        shadows=ShadowService(storage.shadows, events),
        commands=CommandService(operations, things),
        jobs=JobService(storage.jobs, Targeting(things, inventory, storage.jobs, events)),
        monitoring=monitoring,
        binaries=binaries,
        presence=PresenceService(
            storage.presence,
            inventory,
            identity,
            alarms,
            events,
            presence_settings,
            node=cluster.name if cluster is not None else None,
        ),
        rules=rules,
        connectors=connectors,
        sinks=sinks,
        rule_engine=RuleEngine(
            rules, events, node=monitoring.node, base_url=settings.public_http_url or "", sinks=sinks
        ),
        tenant_admin=TenantAdministration(
            tenants, storage.tenants, storage.users, settings.tenant, files=files, audit=audit
        ),
        options=OptionService(storage.options, OptionCipher(), audit),
        statistics=UsageStatistics(storage.usage, storage.tenants, monitoring.http, settings.tenant),
        audit=audit,
        inventory_roles=inventory_roles,
        retention=RetentionService(
            storage.retention,
            binaries,
            default_days=settings.default_retention_days,
            management_tenant=settings.tenant,
            interval=settings.retention_interval,
        ),
        cluster=cluster,
    )


def check_cluster(settings: Settings) -> None:
    """A cluster shares one PostgreSQL database: a SQLite file belongs to one process."""
    if settings.cluster and not settings.effective_database_url.startswith(("postgresql", "postgres:")):
        raise ConfigError(
            "--cluster needs a PostgreSQL database shared by every node (--database-url postgresql://...); "
            "SQLite is one process's file"
        )


async def build_platform(
    settings: Settings, listeners: list[str], cluster: ClusterNode | None = None
) -> Platform:
    """Open storage (applying migrations), provision first-start users and build every service.

    `listeners` names what /health waits for; the servers mark themselves ready as they bind.
    The MQTT broker joins here as one more listener and one more consumer of the services.
    `cluster`: this node, connected, when it is one of several sharing the database.
    """
    check_cluster(settings)
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    storage = open_storage(settings.effective_database_url)
    await storage.open()
    services = build_services(settings, storage, listeners, cluster)
    # Nodes started together on a fresh database: one provisions (the tenant, its users, the key of
    # encrypted options), the others find it done.
    async with storage.database.exclusive("tether.first-start"):
        provisioned = await services.tenants.provision(
            settings.tenant, settings.admin_user, settings.admin_password, settings.bootstrap_password
        )
        await services.options.load(storage.secrets)  # the key of encrypted tenant options
    await services.tenants.refresh_status()  # suspended and deleted tenants: no login
    # Passwords changed by `tether admin set-password` while this process runs.
    password_watch = PasswordChangeWatch(storage.users, services.tenants)
    await password_watch.start()
    await services.certificates.load()
    await services.bans.load()
    await services.tokens.load()
    # Connection history and device presence: what a previous process (in a cluster: of this node's name)
    # left open is closed now.
    await services.presence.start()
    await services.rules.load()
    await services.connectors.load()
    if cluster is None:
        services.retention.start()  # every retention_interval seconds (in a cluster: the leader)
    # Goes on with what a previous process left running; every node of a cluster runs it (each step is a
    # compare-and-set on the bulk operation's cursor: storage/sql/bulk_operations.py).
    services.bulk_operations.start()
    platform = Platform(
        storage=storage,
        services=services,
        app=create_app(services),
        provisioned=provisioned,
        password_watch=password_watch,
    )
    if cluster is not None:
        # Events of the other nodes (before the broker: its adapters must not miss one) and the leader.
        platform.cluster_events = ClusterEvents(cluster, services.events)
        await platform.cluster_events.start()
        platform.leadership = Leadership(cluster, storage.database)
        for duty in leader_duties(services, cluster):
            platform.leadership.add(duty)
        await platform.leadership.start()
    return platform


def leader_duties(services: Services, cluster: ClusterNode) -> list[Duty]:
    """What the leader of a cluster runs for all (docs/cluster.md, "What runs once"): the availability
    alarms and history purge of presence (and closing the connections of nodes that are gone), the
    retention job."""
    presence, membership = services.presence, cluster.membership
    sweeping: set[asyncio.Task[int]] = set()

    async def lead_presence() -> None:
        presence.leading = True

        async def sweep() -> int:
            await asyncio.sleep(membership.timeout)  # until every live node was heard
            return await presence.sweep(membership.alive)

        task = asyncio.ensure_future(sweep())
        sweeping.add(task)
        task.add_done_callback(sweeping.discard)

    def follow_presence() -> None:
        presence.leading = False
        for task in sweeping:
            task.cancel()

    async def node_gone(name: str) -> None:
        if not membership.alive(name):  # back already (restarted): it closed its own rows when it started
            await presence.close_node(name)

    return [
        Duty("presence", lead_presence, follow_presence, node_gone),
        Duty("retention", services.retention.start, services.retention.close),
    ]


def build_mqtt_hooks(platform: Platform, config: BrokerConfig) -> PlatformHooks:
    """The broker's platform hooks: device logins against the platform's credentials (adapters/access.py).
    Clients without credentials keep the plain broker behaviour (the config file's [acl]) when
    `--allow-anonymous` is given."""
    anonymous = DefaultHooks(
        allow_anonymous=config.allow_anonymous,
        acl_rules=config.acl_rules,
        acl_default_allow=config.acl_default_allow,
    )
    return PlatformHooks(platform.services, anonymous=anonymous if config.allow_anonymous else None)


def install_adapters(
    platform: Platform, broker: Broker, hooks: PlatformHooks
) -> list[Callable[[], Awaitable[None] | None]]:
    """Attach the device protocol adapters to the broker before it accepts connections; returns what to
    call (and await, if it returns an awaitable) to detach them, before the broker stops."""
    services = platform.services
    xyte = xyte_adapter.install(broker, services, hooks)
    # EMQX Fleets shadows, commands, jobs and events on $emqx/things/<name>/...
    fleets = fleets_adapter.install(broker, services, timers=services.cluster is None)
    # SmartREST 2.0 and JSON via MQTT (roots s, t, q, c, event, alarm, measurement, inventory); the
    # bootstrap user's s/ucr is passed on to the MQTT bootstrap flow.
    bootstrap = DeviceBootstrap(services.registration, broker.publish)
    c8y = smartrest.install(
        broker,
        services,
        templates=platform.storage.smartrest_templates,
        bootstrap=bootstrap.handle,
        hooks=hooks,
        writes_in_flight=INGEST_WRITES_IN_FLIGHT.get(platform.storage.database.dialect.name, 1),
    )
    # Deleted users (retired devices) lose their MQTT connections at once.
    revoked = revocation.install(services.events, broker, hooks, bootstrap)
    # Connection events and ingest per family, for /api/v5/metrics and Prometheus (after the handlers).
    services.monitoring.mqtt.install(broker, hooks)
    sys_topics = services.monitoring.sys_topics = SysTopics(
        broker, services.monitoring.stats, services.monitoring.node
    )
    sys_topics.install(hooks)
    # Every connection of a tenant's client: history, c8y_Connection, availability (tether.presence).
    presence_feed.install(hooks, services.presence)
    # Rules run on the tenants' messages and on platform events, after they are accepted.
    stop_rules = services.rule_engine.install(broker, hooks)
    # The management API reaches the broker from now until it stops.
    services.broker.attach(broker)
    return [
        *install_cluster(platform, broker, fleets),
        services.broker.detach,
        stop_rules,
        xyte.close,
        fleets.close,
        c8y.close,
        revoked,
        sys_topics.close,
    ]


def install_cluster(
    platform: Platform, broker: Broker, fleets: fleets_adapter.FleetsAdapter
) -> list[Callable[[], Awaitable[None] | None]]:
    """The parts that make this node one of several sharing the database (docs/cluster.md), once its
    broker and adapters are installed; returns what detaches them. Nothing without a cluster."""
    cluster = platform.services.cluster
    if cluster is None:
        return []
    detach: list[Callable[[], Awaitable[None] | None]] = []
    # Each cluster part adds its line here.
    detach.append(cluster_admin.install(platform.services, broker))  # the management API on any node
    # MQTT messages, shared subscriptions, retained messages and QoS across nodes (cluster/routing.py).
    detach.append(cluster_routing.install(cluster, broker))
    # Fleets job and command timeouts on the leader (the events and the rest of the leader: build_platform).
    detach.append(fleets_duty(platform, fleets))
    # Sessions across nodes: takeover of a client id held elsewhere, adoption of a gone node's sessions.
    detach.append(cluster_sessions.install(cluster, broker, platform.storage.broker_state))
    # The wills of a node that dies, published by the leader (cluster/wills.py).
    assert platform.leadership is not None
    detach.append(cluster_wills.install(cluster, broker, platform.leadership))
    return detach


def fleets_duty(platform: Platform, fleets: fleets_adapter.FleetsAdapter) -> Callable[[], None]:
    """The leader's Fleets timers: the jobs' timeout tick, and the command timers of what is SENT (at start
    and when a node that held some is gone); returns what removes the duty."""
    assert platform.leadership is not None
    leadership, tenants = platform.leadership, platform.services.tenants

    async def commands_of_gone(_: str) -> None:
        await fleets.restore_timers(await tenants.tenant_ids())

    duty = Duty(
        "fleets timers", lambda: fleets.start_timers(tenants.tenant_ids), fleets.stop_timers, commands_of_gone
    )
    leadership.add(duty)
    return lambda: leadership.remove(duty)
