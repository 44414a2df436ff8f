"""Tenant, user and the authenticated caller."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"  # everything within its tenant
    DEVICE = "device"  # only the objects it owns
    BOOTSTRAP = "bootstrap"  # only the device-credentials hand-over


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    domain: str
    creation_time: int


@dataclass(frozen=True, slots=True)
class User:
    tenant_id: str
    username: str
    password_hash: str
    roles: frozenset[Role]
    creation_time: int
    email: str | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: every service call is scoped to `tenant_id` and checked against `roles`."""

    tenant_id: str
    username: str
    roles: frozenset[Role] = field(default_factory=frozenset)

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    @property
    def is_device(self) -> bool:
        return Role.DEVICE in self.roles and not self.is_admin
