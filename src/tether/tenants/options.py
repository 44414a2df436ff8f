"""Tenant options (Cumulocity /tenant/options): category-key-value settings of a tenant.

Reading takes ROLE_OPTION_MANAGEMENT_READ, changing ROLE_OPTION_MANAGEMENT_ADMIN. A key starting with
`credentials.` holds a secret (Cumulocity: "Adding a 'credentials.' prefix to the key will make the value of
the option encrypted"): its value is stored encrypted (AES-256-GCM, `option_crypto.py`, with a key kept
among the platform secrets) and never shown again: every read answers ENCRYPTED in its place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from tether.audit.models import NewAuditRecord
from tether.audit.port import AuditTrail
from tether.core.errors import Forbidden, InvalidInput, NotFound
from tether.core.paging import Page, PageRequest
from tether.tenants.models import Principal
from tether.tenants.option_crypto import OptionCipher, SecretStore

R = "option"
FAMILY = "OPTION_MANAGEMENT"
SECRET_PREFIX = "credentials."
#: What a read shows for a secret's value.
ENCRYPTED = "<<Encrypted>>"
MAX_NAME, MAX_VALUE = 255, 64 * 1024


@dataclass(frozen=True, slots=True)
class StoredOption:
    """An option as stored: `value` is the cipher text when `encrypted`."""

    tenant_id: str
    category: str
    key: str
    value: str
    encrypted: bool = False


@dataclass(frozen=True, slots=True)
class Option:
    """An option as a caller sees it (a secret's value is ENCRYPTED)."""

    category: str
    key: str
    value: str


class OptionStore(Protocol):
    async def get(self, tenant_id: str, category: str, key: str) -> StoredOption | None: ...
    async def find(self, tenant_id: str, page: PageRequest) -> Page[StoredOption]:
        """By category, then key."""
        ...

    async def category(self, tenant_id: str, category: str) -> list[StoredOption]: ...
    async def put(self, option: StoredOption) -> bool:
        """Create or replace; True when it was created."""
        ...

    async def delete(self, tenant_id: str, category: str, key: str) -> bool: ...


def _name(value: object, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_NAME or "\x00" in value or "/" in value:
        raise InvalidInput(f"'{what}' must be a text of 1 to {MAX_NAME} characters without '/'", resource=R)
    return value


def _value(value: object) -> str:
    if isinstance(value, bool | int | float):
        value = str(value).lower() if isinstance(value, bool) else str(value)
    if not isinstance(value, str) or len(value) > MAX_VALUE or "\x00" in value:
        raise InvalidInput(f"'value' must be a text of at most {MAX_VALUE} characters", resource=R)
    return value


class OptionService:
    def __init__(self, store: OptionStore, cipher: OptionCipher, audit: AuditTrail | None = None) -> None:
        self._store = store
        self._cipher = cipher
        self._audit = audit

    async def load(self, secrets: SecretStore) -> None:
        """Read (on the first start: make) the encryption key."""
        await self._cipher.load(secrets)

    @staticmethod
    def _check(who: Principal, write: bool) -> None:
        if not who.may(FAMILY, write):
            raise Forbidden("Access is denied", resource="security")

    @staticmethod
    def shown(option: StoredOption) -> Option:
        return Option(option.category, option.key, ENCRYPTED if option.encrypted else option.value)

    async def find(self, who: Principal, page: PageRequest) -> Page[Option]:
        self._check(who, False)
        found = await self._store.find(who.tenant_id, page)
        return Page([self.shown(o) for o in found.items], page, found.total_elements)

    async def category(self, who: Principal, category: str) -> list[Option]:
        self._check(who, False)
        return [self.shown(o) for o in await self._store.category(who.tenant_id, category)]

    async def get(self, who: Principal, category: str, key: str) -> Option:
        self._check(who, False)
        return self.shown(await self._stored(who.tenant_id, category, key))

    async def _stored(self, tenant_id: str, category: str, key: str) -> StoredOption:
        option = await self._store.get(tenant_id, category, key)
        if option is None:
            raise NotFound(f"Unable to find option by given key: {category}/{key}", resource=R)
        return option

    async def secret(self, tenant_id: str, category: str, key: str) -> str | None:
        """The clear value of an option for the platform's own use (None: no such option)."""
        option = await self._store.get(tenant_id, category, key)
        if option is None:
            return None
        if not option.encrypted:
            return option.value
        return self._cipher.decrypt(option.value, _context(tenant_id, category, key))

    async def put(self, who: Principal, category: object, key: object, value: object) -> Option:
        """Create or replace an option (POST /tenant/options, PUT of a category)."""
        self._check(who, True)
        name, item, text = _name(category, "category"), _name(key, "key"), _value(value)
        encrypted = item.startswith(SECRET_PREFIX)
        stored_value = self._cipher.encrypt(text, _context(who.tenant_id, name, item)) if encrypted else text
        stored = StoredOption(who.tenant_id, name, item, stored_value, encrypted)
        created = await self._store.put(stored)
        self._record(who, name, item, "created" if created else "updated", None if encrypted else text)
        return self.shown(stored)

    async def update(self, who: Principal, category: str, key: str, value: object) -> Option:
        """PUT /tenant/options/{category}/{key}: the option must exist."""
        self._check(who, True)
        await self._stored(who.tenant_id, category, key)
        return await self.put(who, category, key, value)

    async def put_category(self, who: Principal, category: str, values: Mapping[str, object]) -> list[Option]:
        self._check(who, True)
        if not values:
            raise InvalidInput("Name at least one option key and its value", resource=R)
        for key, value in values.items():  # checked before any is stored
            _name(key, "key")
            _value(value)
        for key, value in values.items():
            await self.put(who, category, key, value)
        return await self.category(who, category)

    async def delete(self, who: Principal, category: str, key: str) -> None:
        self._check(who, True)
        if not await self._store.delete(who.tenant_id, category, key):
            raise NotFound(f"Unable to find option by given key: {category}/{key}", resource=R)
        self._record(who, category, key, "deleted", None)

    def _record(self, who: Principal, category: str, key: str, verb: str, value: str | None) -> None:
        if self._audit is None:
            return
        text = f"Option {category}/{key} {verb}" + ("" if value is None else f": value='{value[:200]}'")
        self._audit.record(
            NewAuditRecord(
                who.tenant_id, "Option", f"Option {verb}", text, user=who.username, source=f"{category}/{key}"
            )
        )


def _context(tenant_id: str, category: str, key: str) -> bytes:
    """Bound to the cipher text as associated data: a value copied to another row or tenant does not
    decrypt."""
    return f"{tenant_id}\0{category}\0{key}".encode()
