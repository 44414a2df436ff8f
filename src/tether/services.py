"""Every service of the platform, named once: the value the composition root builds (bootstrap.py) and the
HTTP routers, the MQTT adapters and the broker hooks take (whole, or the part they need).

A new capability adds one field here and one line in :func:`tether.bootstrap.build_services`.
"""

from __future__ import annotations

from dataclasses import dataclass

from tether.adapters.control import BrokerControl
from tether.adapters.rules import RuleEngine
from tether.audit.service import AuditService
from tether.binaries.service import BinaryService
from tether.cluster import ClusterNode
from tether.config import Settings
from tether.connectors.manager import SinkManager
from tether.core.events import EventBus
from tether.credentials.api_keys import ApiKeyService
from tether.credentials.authorization import AclService
from tether.credentials.banning import BanService
from tether.credentials.certificates import TrustedCertificateService
from tether.credentials.mqtt_users import MqttUserService
from tether.fleets.commands import CommandService
from tether.fleets.job_service import JobService
from tether.fleets.shadows import ShadowService
from tether.fleets.things import ThingService
from tether.health import Readiness
from tether.identity.service import IdentityService
from tether.inventory.service import InventoryService
from tether.monitoring import Monitoring
from tether.operations.bulk_service import BulkOperationService
from tether.operations.service import OperationService
from tether.presence.service import PresenceService
from tether.realtime import Hub
from tether.registration.retirement import DeviceRetirement
from tether.registration.service import RegistrationService
from tether.registration.xyte import XyteService
from tether.retention.service import RetentionService
from tether.rules.connector_service import ConnectorService
from tether.rules.service import RuleService
from tether.telemetry.alarms import AlarmService
from tether.telemetry.events import EventService
from tether.telemetry.measurements import MeasurementService
from tether.tenants.directory import UserDirectory
from tether.tenants.inventory_roles import InventoryRoleService
from tether.tenants.management import TenantAdministration
from tether.tenants.options import OptionService
from tether.tenants.service import TenantService
from tether.tenants.statistics import UsageStatistics
from tether.tenants.throttle import Throttle
from tether.tenants.tokens import OperatorTokens


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    events: EventBus  # domain events, in process (not the /event/events of devices: device_events)
    readiness: Readiness  # what /health waits for
    realtime: Hub  # Cumulocity real-time notifications
    broker: BrokerControl  # the running MQTT broker, once attached (the management API's clients, publish)
    tenants: TenantService
    users: UserDirectory
    throttle: Throttle  # failed logins, shared by HTTP and MQTT
    inventory: InventoryService
    identity: IdentityService
    operations: OperationService
    bulk_operations: BulkOperationService  # /devicecontrol/bulkoperations and the runner of their ramps
    registration: RegistrationService
    retirement: DeviceRetirement
    measurements: MeasurementService
    device_events: EventService
    alarms: AlarmService
    xyte: XyteService
    api_keys: ApiKeyService
    mqtt_users: MqttUserService
    acl: AclService
    certificates: TrustedCertificateService
    bans: BanService  # banned clients, checked in memory at every MQTT CONNECT
    tokens: OperatorTokens  # bearer tokens of POST /api/v5/login
    things: ThingService  # EMQX Fleets things, types and groups (managed objects)
    shadows: ShadowService  # their shadow documents
    commands: CommandService  # Fleets commands (operations of the things)
    jobs: JobService  # Fleets jobs and their executions per thing
    monitoring: Monitoring  # HTTP, MQTT and database figures for /api/v5/stats, /metrics, /prometheus/stats
    rules: RuleService  # the rule engine's rules (/api/v5/rules), compiled, with their metrics
    connectors: ConnectorService  # their connectors and sink actions (/api/v5/connectors, /api/v5/actions)
    sinks: SinkManager  # the running sinks: clients, buffers, retries, status and metrics
    rule_engine: RuleEngine  # runs them on messages and events once the broker is attached; emit() for events
    binaries: BinaryService  # /inventory/binaries and event attachments, files in a BinaryStore
    presence: PresenceService  # connection history, device connection and availability, offline alarms
    tenant_admin: TenantAdministration  # /tenant/tenants: the management tenant creates, suspends, deletes
    options: OptionService  # /tenant/options (`credentials.` values encrypted)
    statistics: UsageStatistics  # /tenant/statistics/summary
    audit: AuditService  # /audit/auditRecords, and the trail the services write to
    inventory_roles: InventoryRoleService  # /user/inventoryroles and their assignments on objects
    retention: RetentionService  # /retention/retentions and the job that deletes old data
    cluster: ClusterNode | None = None  # the other nodes, in a cluster (docs/cluster.md); None alone
