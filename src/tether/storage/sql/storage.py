"""The SQL `Storage`: one database and the stores over it."""

from __future__ import annotations

from tether.storage.sql.audit import SqlAuditStore
from tether.storage.sql.bans import SqlBanStore
from tether.storage.sql.broker_state import SqlBrokerStore
from tether.storage.sql.bulk_operations import SqlBulkOperationStore
from tether.storage.sql.connectors import SqlConnectorStore
from tether.storage.sql.credentials import (
    SqlAclRuleStore,
    SqlApiKeyStore,
    SqlMqttUserStore,
    SqlTrustedCertificateStore,
)
from tether.storage.sql.database import Database
from tether.storage.sql.dialect import Dialect
from tether.storage.sql.fleets import SqlShadowStore
from tether.storage.sql.fleets_jobs import SqlJobStore
from tether.storage.sql.identity import SqlExternalIdStore
from tether.storage.sql.inventory import SqlManagedObjectStore
from tether.storage.sql.inventory_roles import SqlInventoryRoleStore
from tether.storage.sql.operations import SqlOperationStore
from tether.storage.sql.options import SqlOptionStore, SqlSecretStore
from tether.storage.sql.presence import SqlPresenceStore
from tether.storage.sql.registration import SqlDeviceRequestStore
from tether.storage.sql.retention import SqlRetentionStore
from tether.storage.sql.rules import SqlRuleStore
from tether.storage.sql.smartrest_templates import SqlSmartRestTemplateStore
from tether.storage.sql.statistics import SqlUsageStore
from tether.storage.sql.telemetry import SqlEventStore, SqlMeasurementStore
from tether.storage.sql.telemetry_alarms import SqlAlarmStore
from tether.storage.sql.tenants import SqlGroupStore, SqlTenantStore, SqlUserStore
from tether.storage.sql.tokens import SqlOperatorTokenStore
from tether.storage.sql.xyte import SqlXyteStore


class SqlStorage:
    def __init__(self, dialect: Dialect) -> None:
        self.database = Database(dialect)
        self.tenants = SqlTenantStore(self.database)
        self.users = SqlUserStore(self.database)
        self.groups = SqlGroupStore(self.database)
        self.managed_objects = SqlManagedObjectStore(self.database)
        self.external_ids = SqlExternalIdStore(self.database)
        self.operations = SqlOperationStore(self.database)
        self.bulk_operations = SqlBulkOperationStore(self.database)
        self.device_requests = SqlDeviceRequestStore(self.database)
        self.measurements = SqlMeasurementStore(self.database)
        self.events = SqlEventStore(self.database)
        self.alarms = SqlAlarmStore(self.database)
        self.broker_state = SqlBrokerStore(self.database)
        self.xyte = SqlXyteStore(self.database)
        self.api_keys = SqlApiKeyStore(self.database)
        self.mqtt_users = SqlMqttUserStore(self.database)
        self.acl_rules = SqlAclRuleStore(self.database)
        self.trusted_certificates = SqlTrustedCertificateStore(self.database)
        self.smartrest_templates = SqlSmartRestTemplateStore(self.database)
        self.bans = SqlBanStore(self.database)
        self.rules = SqlRuleStore(self.database)
        self.connectors = SqlConnectorStore(self.database)
        self.operator_tokens = SqlOperatorTokenStore(self.database)
        self.presence = SqlPresenceStore(self.database)
        self.shadows = SqlShadowStore(self.database)
        self.options = SqlOptionStore(self.database)
        self.secrets = SqlSecretStore(self.database)
        self.audit = SqlAuditStore(self.database)
        self.usage = SqlUsageStore(self.database)
        self.retention = SqlRetentionStore(self.database)
        self.inventory_roles = SqlInventoryRoleStore(self.database)

        self.jobs = SqlJobStore(self.database)

    async def open(self) -> None:
        await self.database.open()

    async def close(self) -> None:
        await self.database.close()
