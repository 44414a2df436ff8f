"""Cumulocity's wording of domain errors: the `message` of a REST error body, the text of a SmartREST s/e
line and the `message` on JSON via MQTT's error topic.

A service says in structured form what a request named that is not there (core/errors.py `Missing`);
here that becomes Cumulocity's sentence, as its REST API documents them (e.g. "Finding device data from
database failed : No managedObject for id '42'!"). Every other error keeps its own message."""

from __future__ import annotations

from tether.core.errors import DomainError, Missing

__all__ = ["WORDING", "message"]

#: (what, role) of a :class:`Missing` -> the sentence; `{0}`, `{1}` are the parts of its key.
WORDING: dict[tuple[str, str], str] = {
    ("managed object", ""): "Finding device data from database failed : No managedObject for id '{0}'!",
    ("managed object", "source"): "Finding source managed object failed: No managedObject for id '{0}'!",
    ("managed object", "device"): "Cannot create operation: no managed object for id '{0}'!",
    ("external id", ""): "External id not found; external id = ID [type={0}, value={1}]",
    ("operation", ""): "Finding operation from database failed : No operation for id '{0}'!",
    ("bulk operation", ""): "Finding bulk operation from database failed : No bulkOperation for id '{0}'!",
    ("managed object", "group"): "Cannot create bulk operation: no managed object for id '{0}'!",
    ("event", ""): "No event for id '{0}'!",
    ("alarm", ""): "No alarm for id '{0}'!",
    ("measurement", ""): "No measurement for id '{0}'!",
    ("device request", ""): "No newDeviceRequest for id '{0}'!",
    ("device request", "accepted"): "newDeviceRequest '{0}' has not been accepted yet",
}

#: A child reference that does not exist (`role` is its kind, e.g. childDevices).
REFERENCE = "Managed object {parent} has no {role} reference to {0}"


def message(exc: DomainError) -> str:
    """What Cumulocity says for `exc`."""
    missing = exc.missing
    if missing is None:
        return exc.message
    return _sentence(missing) or exc.message


def _sentence(missing: Missing) -> str | None:
    template = REFERENCE if missing.parent else WORDING.get((missing.what, missing.role))
    if template is None:
        return None
    return template.format(*missing.key, parent=missing.parent, role=missing.role)
