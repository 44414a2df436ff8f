"""API keys, MQTT users, authorization rules and trusted CA certificates in SQL (migration 0006)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from tether.core.errors import Conflict
from tether.core.paging import Page, PageRequest
from tether.credentials.models import (
    R_ACL,
    R_API_KEY,
    R_CERT,
    R_MQTT_USER,
    ApiKey,
    ApiKeyRole,
    CertificateStatus,
    MqttUser,
    RuleScope,
    RuleSet,
    TrustedCertificate,
)
from tether.credentials.rules import parse_rules, render_rule
from tether.storage.sql.database import Database
from tether.storage.sql.schema import Document, metadata

api_keys = Table(
    "api_keys",
    metadata,
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(256), primary_key=True),
    Column("api_key", String(64), nullable=False, unique=True),
    Column("secret_hash", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expired_at", BigInteger),
    Column("description", Text, nullable=False),
    Column("enable", Boolean, nullable=False),
    Column("role", String(32), nullable=False),
)

mqtt_users = Table(
    "mqtt_users",
    metadata,
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", String(255), primary_key=True),
    Column("password_hash", Text, nullable=False),
    Column("is_superuser", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

acl_rules = Table(
    "acl_rules",
    metadata,
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("scope", String(16), primary_key=True),
    Column("who", String(255), primary_key=True),
    Column("rules", Document, nullable=False),
)

trusted_certificates = Table(
    "trusted_certificates",
    metadata,
    Column("fingerprint", String(64), primary_key=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False),
    Column("cert_pem", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("auto_registration", Boolean, nullable=False),
    Column("subject", Document, nullable=False),
    Column("issuer", Document, nullable=False),
    Column("serial_number", String(128), nullable=False),
    Column("not_before", BigInteger, nullable=False),
    Column("not_after", BigInteger, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_trusted_cert_tenant", "tenant_id"),
)


def _contains(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def _paged(db: Database, table: Table, where: list[Any], order: list[Any], page: PageRequest) -> Any:
    query = select(table).where(*where).order_by(*order).limit(page.page_size).offset(page.offset)
    async with db.read() as conn:
        rows = (await conn.execute(query)).all()
        total = (
            await conn.scalar(select(func.count()).select_from(table).where(*where))
            if page.with_total
            else None
        )
    return rows, total


# ------------------------------------------------------------------------------------------------ API keys


def _api_key(row: Any) -> ApiKey:
    return ApiKey(
        tenant_id=row.tenant_id,
        name=row.name,
        api_key=row.api_key,
        secret_hash=row.secret_hash,
        created_at=row.created_at,
        expired_at=row.expired_at,
        desc=row.description,
        enable=bool(row.enable),
        role=ApiKeyRole(row.role),
    )


class SqlApiKeyStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, key: ApiKey) -> None:
        values = {
            "tenant_id": key.tenant_id,
            "name": key.name,
            "api_key": key.api_key,
            "secret_hash": key.secret_hash,
            "created_at": key.created_at,
            "expired_at": key.expired_at,
            "description": key.desc,
            "enable": key.enable,
            "role": key.role.value,
        }
        try:
            async with self._db.write() as conn:
                await conn.execute(insert(api_keys).values(**values))
        except IntegrityError:
            raise Conflict(f"API key '{key.name}' already exists", resource=R_API_KEY) from None

    async def get(self, tenant_id: str, name: str) -> ApiKey | None:
        query = select(api_keys).where(api_keys.c.tenant_id == tenant_id, api_keys.c.name == name)
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _api_key(row)

    async def by_key(self, api_key: str) -> ApiKey | None:
        async with self._db.read() as conn:
            row = (await conn.execute(select(api_keys).where(api_keys.c.api_key == api_key))).first()
        return None if row is None else _api_key(row)

    async def list(self, tenant_id: str) -> list[ApiKey]:
        query = select(api_keys).where(api_keys.c.tenant_id == tenant_id).order_by(api_keys.c.created_at)
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_api_key(r) for r in rows]

    async def replace(self, key: ApiKey) -> bool:
        statement = (
            update(api_keys)
            .where(api_keys.c.tenant_id == key.tenant_id, api_keys.c.name == key.name)
            .values(enable=key.enable, expired_at=key.expired_at, description=key.desc, role=key.role.value)
        )
        async with self._db.write() as conn:
            result = await conn.execute(statement)
        return bool(result.rowcount)

    async def delete(self, tenant_id: str, name: str) -> bool:
        async with self._db.write() as conn:
            result = await conn.execute(
                delete(api_keys).where(api_keys.c.tenant_id == tenant_id, api_keys.c.name == name)
            )
        return bool(result.rowcount)


# ------------------------------------------------------------------------------------------------ MQTT users


def _mqtt_user(row: Any) -> MqttUser:
    return MqttUser(
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        password_hash=row.password_hash,
        is_superuser=bool(row.is_superuser),
        created_at=row.created_at,
    )


class SqlMqttUserStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, user: MqttUser) -> None:
        values = {
            "tenant_id": user.tenant_id,
            "user_id": user.user_id,
            "password_hash": user.password_hash,
            "is_superuser": user.is_superuser,
            "created_at": user.created_at,
        }
        try:
            async with self._db.write() as conn:
                await conn.execute(insert(mqtt_users).values(**values))
        except IntegrityError:
            raise Conflict("User already exists", resource=R_MQTT_USER) from None

    async def get(self, tenant_id: str, user_id: str) -> MqttUser | None:
        query = select(mqtt_users).where(mqtt_users.c.tenant_id == tenant_id, mqtt_users.c.user_id == user_id)
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _mqtt_user(row)

    async def find(
        self, tenant_id: str, page: PageRequest, *, like: str | None = None, is_superuser: bool | None = None
    ) -> Page[MqttUser]:
        where: list[Any] = [mqtt_users.c.tenant_id == tenant_id]
        if like:
            where.append(self._db.dialect.ilike(mqtt_users.c.user_id, _contains(like)))
        if is_superuser is not None:
            where.append(mqtt_users.c.is_superuser == is_superuser)
        rows, total = await _paged(self._db, mqtt_users, where, [mqtt_users.c.user_id], page)
        return Page([_mqtt_user(r) for r in rows], page, total)

    async def replace(self, user: MqttUser) -> bool:
        statement = (
            update(mqtt_users)
            .where(mqtt_users.c.tenant_id == user.tenant_id, mqtt_users.c.user_id == user.user_id)
            .values(password_hash=user.password_hash, is_superuser=user.is_superuser)
        )
        async with self._db.write() as conn:
            result = await conn.execute(statement)
        return bool(result.rowcount)

    async def delete(self, tenant_id: str, user_id: str) -> bool:
        async with self._db.write() as conn:
            result = await conn.execute(
                delete(mqtt_users).where(mqtt_users.c.tenant_id == tenant_id, mqtt_users.c.user_id == user_id)
            )
        return bool(result.rowcount)


# ------------------------------------------------------------------------------------------------ ACL rules


def _rule_set(row: Any) -> RuleSet:
    return RuleSet(row.tenant_id, RuleScope(row.scope), row.who, parse_rules(row.rules))


class SqlAclRuleStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    @staticmethod
    def _key(tenant_id: str, scope: RuleScope, who: str) -> tuple[Any, ...]:
        return (acl_rules.c.tenant_id == tenant_id, acl_rules.c.scope == scope.value, acl_rules.c.who == who)

    async def get(self, tenant_id: str, scope: RuleScope, who: str) -> RuleSet | None:
        async with self._db.read() as conn:
            row = (await conn.execute(select(acl_rules).where(*self._key(tenant_id, scope, who)))).first()
        return None if row is None else _rule_set(row)

    async def find(
        self, tenant_id: str, scope: RuleScope, page: PageRequest, *, like: str | None = None
    ) -> Page[RuleSet]:
        where: list[Any] = [acl_rules.c.tenant_id == tenant_id, acl_rules.c.scope == scope.value]
        if like:
            where.append(self._db.dialect.ilike(acl_rules.c.who, _contains(like)))
        rows, total = await _paged(self._db, acl_rules, where, [acl_rules.c.who], page)
        return Page([_rule_set(r) for r in rows], page, total)

    async def for_tenant(self, tenant_id: str) -> list[RuleSet]:
        async with self._db.read() as conn:
            rows = (await conn.execute(select(acl_rules).where(acl_rules.c.tenant_id == tenant_id))).all()
        return [_rule_set(r) for r in rows]

    async def create_many(self, rule_sets: list[RuleSet]) -> list[str]:
        if not rule_sets:
            return []
        first = rule_sets[0]
        whos = [r.who for r in rule_sets]
        try:
            async with self._db.write() as conn:
                existing = (
                    await conn.scalars(
                        select(acl_rules.c.who).where(
                            acl_rules.c.tenant_id == first.tenant_id,
                            acl_rules.c.scope == first.scope.value,
                            acl_rules.c.who.in_(whos),
                        )
                    )
                ).all()
                if existing:
                    return list(existing)
                await conn.execute(
                    insert(acl_rules),
                    [
                        {
                            "tenant_id": r.tenant_id,
                            "scope": r.scope.value,
                            "who": r.who,
                            "rules": [render_rule(rule) for rule in r.rules],
                        }
                        for r in rule_sets
                    ],
                )
        except IntegrityError:  # a concurrent writer (or a duplicate within the request)
            raise Conflict("Rules for some of these already exist", resource=R_ACL) from None
        return []

    async def put(self, rule_set: RuleSet) -> None:
        key = self._key(rule_set.tenant_id, rule_set.scope, rule_set.who)
        rules = [render_rule(rule) for rule in rule_set.rules]
        async with self._db.write() as conn:
            result = await conn.execute(update(acl_rules).where(*key).values(rules=rules))
            if not result.rowcount:
                await conn.execute(
                    insert(acl_rules).values(
                        tenant_id=rule_set.tenant_id,
                        scope=rule_set.scope.value,
                        who=rule_set.who,
                        rules=rules,
                    )
                )

    async def delete(self, tenant_id: str, scope: RuleScope, who: str) -> bool:
        async with self._db.write() as conn:
            result = await conn.execute(delete(acl_rules).where(*self._key(tenant_id, scope, who)))
        return bool(result.rowcount)


# ------------------------------------------------------------------------------------------------ trusted CAs


def _dn(raw: Any) -> tuple[tuple[tuple[str, str], ...], ...]:
    return tuple(tuple((str(k), str(v)) for k, v in rdn) for rdn in raw)


def _certificate(row: Any) -> TrustedCertificate:
    return TrustedCertificate(
        tenant_id=row.tenant_id,
        fingerprint=row.fingerprint,
        name=row.name,
        cert_pem=row.cert_pem,
        status=CertificateStatus(row.status),
        auto_registration=bool(row.auto_registration),
        subject=_dn(row.subject),
        issuer=_dn(row.issuer),
        serial_number=row.serial_number,
        not_before=row.not_before,
        not_after=row.not_after,
        version=row.version,
        created_at=row.created_at,
    )


class SqlTrustedCertificateStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, certificate: TrustedCertificate) -> None:
        c = certificate
        values = {
            "fingerprint": c.fingerprint,
            "tenant_id": c.tenant_id,
            "name": c.name,
            "cert_pem": c.cert_pem,
            "status": c.status.value,
            "auto_registration": c.auto_registration,
            "subject": [list(map(list, rdn)) for rdn in c.subject],
            "issuer": [list(map(list, rdn)) for rdn in c.issuer],
            "serial_number": c.serial_number,
            "not_before": c.not_before,
            "not_after": c.not_after,
            "version": c.version,
            "created_at": c.created_at,
        }
        try:
            async with self._db.write() as conn:
                await conn.execute(insert(trusted_certificates).values(**values))
        except IntegrityError:
            raise Conflict(
                f"A certificate with fingerprint {c.fingerprint} is already stored", resource=R_CERT
            ) from None

    async def get(self, tenant_id: str, fingerprint: str) -> TrustedCertificate | None:
        t = trusted_certificates
        query = select(t).where(t.c.tenant_id == tenant_id, t.c.fingerprint == fingerprint)
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _certificate(row)

    async def find(self, tenant_id: str, page: PageRequest) -> Page[TrustedCertificate]:
        t = trusted_certificates
        rows, total = await _paged(
            self._db, t, [t.c.tenant_id == tenant_id], [t.c.created_at, t.c.fingerprint], page
        )
        return Page([_certificate(r) for r in rows], page, total)

    async def all(self) -> list[TrustedCertificate]:
        async with self._db.read() as conn:
            rows = (await conn.execute(select(trusted_certificates))).all()
        return [_certificate(r) for r in rows]

    async def replace(self, certificate: TrustedCertificate) -> bool:
        t = trusted_certificates
        statement = (
            update(t)
            .where(t.c.tenant_id == certificate.tenant_id, t.c.fingerprint == certificate.fingerprint)
            .values(
                name=certificate.name,
                status=certificate.status.value,
                auto_registration=certificate.auto_registration,
            )
        )
        async with self._db.write() as conn:
            result = await conn.execute(statement)
        return bool(result.rowcount)

    async def delete(self, tenant_id: str, fingerprint: str) -> bool:
        t = trusted_certificates
        async with self._db.write() as conn:
            result = await conn.execute(
                delete(t).where(t.c.tenant_id == tenant_id, t.c.fingerprint == fingerprint)
            )
        return bool(result.rowcount)
