"""What an authenticated MQTT client may publish and subscribe to (the broker's hot path).

Decided once at CONNECT into a :class:`Policy` kept in the client's login record, so a check is a few string
operations and no I/O. Everything is relative to the client's tenant: the broker mounts every topic under
the tenant's mountpoint, so no rule here can reach another tenant.

* Administrators and EMQX superusers may use any topic of their tenant; operator rules do not apply to them
  (EMQX: superusers skip authorization).
* The bootstrap user may only publish `s/ucr` and subscribe to `s/dcr` (docs/protocols.md section 7).
* No device may name another client's private topics (`$client/...`, where the broker mounts them), whatever
  the rules say.
* Every other client (a device) first meets the operator's rules in EMQX's order (its user name, its client
  id, all; the first match decides), and, when none matches, its own namespaces (docs/security.md):
  Cumulocity's SmartREST roots s/, t/, q/, c/ and JSON-via-MQTT roots (private to the client inside the
  broker, so implicitly its own), `$emqx/things/<name>/...` and `$emqx/commands/things/<name>/...` of each
  EMQX Fleets thing it is (the things whose managed object its credential owns: fleets/things.py), and
  `v1/device/<its Xyte id>/...`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tether.adapters.namespaces import C8Y_PRIVATE_ROOTS
from tether.credentials.rules import CompiledRule, decide
from tether.mqtt.topics import SHARE_PREFIX, filter_covers

__all__ = ["BOOTSTRAP_REQUEST", "BOOTSTRAP_RESPONSE", "Policy"]

BOOTSTRAP_REQUEST = "s/ucr"
BOOTSTRAP_RESPONSE = "s/dcr"
#: Where the broker mounts other clients' private topics (tether.broker.mountpoints.client_prefix): no rule
#: opens it to a device.
_PRIVATE_AREA = "$client"
_WILDCARDS = frozenset("+#/")


def _owned_prefixes(names: tuple[str, ...], xyte_id: str | None) -> tuple[str, ...]:
    """The topic prefixes (each ending in `/`) of the device's own non-private namespaces."""
    prefixes = []
    for name in names:
        if name and not (_WILDCARDS & set(name)):
            prefixes.append(f"$emqx/things/{name}/")
            prefixes.append(f"$emqx/commands/things/{name}/")
    if xyte_id and not (_WILDCARDS & set(xyte_id)):
        prefixes.append(f"v1/device/{xyte_id}/")
    return tuple(prefixes)


@dataclass(frozen=True, slots=True)
class Policy:
    superuser: bool = False
    bootstrap: bool = False
    rules: tuple[CompiledRule, ...] = ()
    owned: tuple[str, ...] = ()  # see _owned_prefixes
    private_roots: frozenset[str] = C8Y_PRIVATE_ROOTS
    #: With rules: the last publish decided, (topic, qos, retain, verdict). The rules (compiled for one
    #: connection) and everything else here never change, so it is never stale; a device publishes to the
    #: same few topics, and its rules cost ~1-3 us a message (each rule a topic match).
    _last: tuple[str, int | None, bool | None, bool] | None = field(
        default=None, init=False, compare=False, repr=False
    )

    @classmethod
    def for_device(
        cls, rules: tuple[CompiledRule, ...], names: tuple[str, ...], xyte_id: str | None = None
    ) -> Policy:
        owned = _owned_prefixes(names, xyte_id)
        if not rules and not owned:
            return _DEVICE  # most devices: no operator rule, no thing (one shared, immutable policy)
        return cls(rules=rules, owned=owned)

    def may_publish(self, topic: str, qos: int | None = None, retain: bool | None = None) -> bool:
        if self.superuser:
            return True
        if self.bootstrap:
            return topic == BOOTSTRAP_REQUEST
        if self.rules:
            last = self._last
            if last is not None and last[0] == topic and last[1] == qos and last[2] == retain:
                return last[3]
            allowed = self._may_publish(topic, qos, retain)
            object.__setattr__(self, "_last", (topic, qos, retain, allowed))  # frozen: a cache, not state
            return allowed
        return self._may_publish(topic, qos, retain)

    def _may_publish(self, topic: str, qos: int | None, retain: bool | None) -> bool:
        root = topic.partition("/")[0]
        if root == _PRIVATE_AREA:
            return False
        if self.rules:
            verdict = decide(self.rules, True, topic, qos, retain)
            if verdict is not None:
                return verdict
        if root in self.private_roots:
            return True
        return any(topic.startswith(prefix) or topic == prefix[:-1] for prefix in self.owned)

    def may_subscribe(self, topic_filter: str, qos: int | None = None) -> bool:
        if self.superuser:
            return True
        if self.bootstrap:
            return topic_filter == BOOTSTRAP_RESPONSE
        inner = topic_filter
        if inner.startswith(SHARE_PREFIX):
            inner = inner[len(SHARE_PREFIX) :].partition("/")[2]
        root = inner.partition("/")[0]
        if root == _PRIVATE_AREA:
            return False
        if self.rules:
            verdict = decide(self.rules, False, topic_filter, qos)
            if verdict is not None:
                return verdict
        if root in self.private_roots:
            return True
        return any(filter_covers(prefix + "#", inner) for prefix in self.owned)


#: The policy of a device without operator rules or Fleets/Xyte namespaces of its own.
_DEVICE = Policy()
