"""A retention rule: which data of a tenant is deleted once older than `maximum_age` days."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

DAY_MS = 86_400_000
ANY = "*"


class DataType(StrEnum):
    """What a rule deletes. `*` is every kind of data except BINARY: a rule deletes files only when it names
    them (firmware and software images are binaries too, and a catch-all rule must not take them)."""

    MEASUREMENT = "MEASUREMENT"
    EVENT = "EVENT"
    ALARM = "ALARM"
    OPERATION = "OPERATION"
    AUDIT = "AUDIT"
    BINARY = "BINARY"
    ALL = "*"


#: What `*` covers.
EVERY = (DataType.MEASUREMENT, DataType.EVENT, DataType.ALARM, DataType.OPERATION, DataType.AUDIT)


@dataclass(frozen=True, slots=True)
class RuleDraft:
    """What POST and PUT carry; `*` (or None) in type, source and fragment_type means any."""

    data_type: DataType
    maximum_age: int  # days
    type: str = ANY
    source: str = ANY
    fragment_type: str = ANY
    editable: bool = True


@dataclass(frozen=True, slots=True)
class RetentionRule:
    id: int
    tenant_id: str
    data_type: DataType
    maximum_age: int
    type: str
    source: str
    fragment_type: str
    editable: bool

    def kinds(self) -> tuple[DataType, ...]:
        return EVERY if self.data_type is DataType.ALL else (self.data_type,)

    def is_catch_all(self) -> bool:
        return self.data_type is DataType.ALL and self.type == self.source == self.fragment_type == ANY


@dataclass(frozen=True, slots=True)
class Selection:
    """What one pass of a rule deletes: rows of `kind` of `tenant_id` older than `before` (ms), narrowed by
    type, source (a managed object id, or a user/text for AUDIT) and fragment type where not None."""

    tenant_id: str
    kind: DataType
    before: int
    type: str | None = None
    source: str | None = None
    fragment_type: str | None = None

    @staticmethod
    def of(rule: RetentionRule, kind: DataType, now: int) -> Selection:
        def narrow(value: str) -> str | None:
            return None if value == ANY else value

        return Selection(
            rule.tenant_id,
            kind,
            now - rule.maximum_age * DAY_MS,
            narrow(rule.type),
            narrow(rule.source),
            narrow(rule.fragment_type),
        )


@dataclass(frozen=True, slots=True)
class Deleted:
    """One batch's result: how many rows went, and the files that went with them (binaries' managed object
    ids; (source id, event id) of events that had an attachment)."""

    rows: int
    binaries: tuple[int, ...] = ()
    attachments: tuple[tuple[int, int], ...] = ()
