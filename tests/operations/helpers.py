"""What the service-level tests get from the `services` fixture (conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass

from tether.core.events import DomainEvent
from tether.operations.service import OperationService
from tether.registration.service import RegistrationService
from tether.storage.sql.storage import SqlStorage
from tether.tenants.service import TenantService


@dataclass
class Services:
    storage: SqlStorage
    tenants: TenantService
    operations: OperationService
    registration: RegistrationService
    events: list[DomainEvent]
