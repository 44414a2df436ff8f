"""The rule engine's `republish` action made ready once per action (adapters/rules.py runs it): what is
constant in its templates is worked out when the plan is made, so an output costs only the parts that
depend on it (topic, payload, QoS, retain, MQTT properties)."""

from __future__ import annotations

from typing import Any

from tether.mqtt.properties import EMPTY_PROPERTIES, Properties
from tether.mqtt.topics import topic_name_problem
from tether.rules.models import MQTT_PROPERTIES, Republish
from tether.rules.values import to_json, to_str

__all__ = ["ActionFailed", "RepublishPlan", "properties_of", "template_keys"]


class RepublishPlan:
    """One republish action of a tenant's rule made ready once: what is constant in its templates is worked
    out here, so an output costs only the parts that depend on it. Topics come with the tenant's
    `mountpoint` (the broker's topics)."""

    __slots__ = (
        "action", "mountpoint", "payload_key", "qos", "retain", "routes", "simple", "topic", "topic_key",
        "topics", "user_key",
    )  # fmt: skip

    def __init__(self, action: Republish, mountpoint: str) -> None:
        self.action = action
        self.mountpoint = mountpoint
        constant = action.topic.is_constant
        self.topic = mountpoint + _check_topic(action.topic.render({})) if constant else None
        # A topic of one placeholder `${key}` among text: rendered and checked once per value of the key.
        keys = [p[0] for p in action.topic.parts if isinstance(p, tuple)]
        single = len(keys) == 1 and all(isinstance(p, str) or len(p) == 1 for p in action.topic.parts)
        self.topic_key = keys[0] if single else None
        self.topics: dict[object, str] = {}
        #: For the engine's fused path, by the value of the key: the topic and whether a rule takes it.
        self.routes: dict[str, tuple[str, str]] = {}
        self.qos = _qos(action.qos.render({})) if action.qos.is_constant else None
        self.retain = _flag(action.retain.render({})) if action.retain.is_constant else None
        # No MQTT properties and user properties of one key (`${user_properties}` by default): the output
        # without that key needs no properties (EMPTY_PROPERTIES), checked with one lookup.
        user = action.user_properties.parts
        one_key = len(user) == 1 and isinstance(user[0], tuple) and len(user[0]) == 1
        self.user_key = user[0][0] if one_key and not action.mqtt_properties else None
        parts = action.payload.parts
        self.payload_key = (
            parts[0][0] if len(parts) == 1 and isinstance(parts[0], tuple) and len(parts[0]) == 1 else None
        )
        #: The common case (`topic: "a/${clientid}"`, `payload: "${payload}"`, constant QoS and retain, no
        #: MQTT properties): a few lookups an output.
        self.simple: tuple[str, str, str, int, bool] | None = None
        if (
            self.topic is None
            and self.topic_key is not None
            and self.qos is not None
            and self.retain is not None
            and self.payload_key is not None
            and self.user_key is not None
        ):
            self.simple = (self.topic_key, self.payload_key, self.user_key, self.qos, self.retain)

    def __call__(self, output: dict[str, Any]) -> tuple[str, bytes, int, bool, Properties]:
        simple = self.simple
        if simple is not None:
            topic_key, payload_key, user_key, qos, retain = simple
            value = output.get(topic_key)
            topic = self.topics.get(value) if type(value) is str else None
            if topic is None:
                topic = self._topic(output, value)
            data = output.get(payload_key)
            if type(data) is str:
                payload = data.encode()
            elif type(data) is bytes:
                payload = data
            else:
                payload = to_str(data).encode()
            if output.get(user_key) is None:
                return topic, payload, qos, retain, EMPTY_PROPERTIES
            return topic, payload, qos, retain, properties_of(self.action, output)
        action = self.action
        topic = self.topic
        if topic is None:
            key = self.topic_key
            if key is not None:
                value = output.get(key)
                topic = self.topics.get(value) if type(value) is str else None
                if topic is None:
                    topic = self._topic(output, value)
            else:
                topic = self.mountpoint + _check_topic(action.topic.render(output))
        qos = self.qos if self.qos is not None else _qos(action.qos.value(output))
        retain = self.retain if self.retain is not None else _flag(action.retain.value(output))
        key = self.payload_key
        value = (
            output.get(key)
            if key is not None
            else action.payload.value(output)
            if action.payload.parts
            else None
        )
        if value is None and not action.payload.parts:
            payload = to_json(output).encode()
        elif type(value) is bytes:
            payload = value
        elif type(value) is str:
            payload = value.encode()
        else:
            payload = to_str(value).encode()
        if self.user_key is not None and output.get(self.user_key) is None:
            properties = EMPTY_PROPERTIES
        else:
            properties = properties_of(action, output)
        return topic, payload, qos, retain, properties

    def _topic(self, output: dict[str, Any], value: object) -> str:
        """The topic of a one-placeholder template, rendered, checked and kept for the value of its key."""
        topic = self.mountpoint + _check_topic(self.action.topic.render(output))
        if type(value) is str:
            if len(self.topics) >= 10_000:
                self.topics.clear()
            self.topics[value] = topic
        return topic


def _check_topic(topic: str) -> str:
    problem = topic_name_problem(topic)
    if problem is not None or topic.startswith("$"):
        raise ActionFailed(f"invalid topic {topic!r}: {problem or 'topics starting with $ are reserved'}")
    return topic


class ActionFailed(Exception):
    """An action could not be done with this output (e.g. its topic template gave an invalid topic)."""


def template_keys(action: Republish) -> frozenset[str] | None:
    """The output's keys the action reads (the first name of each `${...}`); None when it reads the whole
    output (an empty payload: the output as JSON)."""
    if not action.payload.parts:
        return None
    templates = [action.topic, action.qos, action.retain, action.payload, action.user_properties]
    templates += [template for _, template in action.mqtt_properties]
    return frozenset(part[0] for t in templates for part in t.parts if isinstance(part, tuple))


def _qos(value: object) -> int:
    if isinstance(value, str) and value.strip() in ("0", "1", "2"):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1, 2):
        return value
    raise ActionFailed(f"qos must be 0, 1 or 2, not {value!r}")


def _flag(value: object) -> bool:
    if value in (True, "true", 1, "1"):
        return True
    if value in (False, "false", 0, "0", None):
        return False
    raise ActionFailed(f"retain must be true or false, not {value!r}")


def properties_of(action: Republish, output: dict[str, Any]) -> Properties:
    values: dict[str, Any] = {}
    user = action.user_properties.value(output)
    if user is None and not action.mqtt_properties:
        return EMPTY_PROPERTIES
    if isinstance(user, dict):
        values["user_properties"] = tuple((str(k), to_str(v)) for k, v in user.items())
    elif isinstance(user, list):
        pairs = []
        for item in user:
            if isinstance(item, dict) and "key" in item and "value" in item:
                pairs.append((to_str(item["key"]), to_str(item["value"])))
        values["user_properties"] = tuple(pairs)
    for name, template in action.mqtt_properties:
        value = template.value(output)
        if value is None or value == "":
            continue
        attribute = MQTT_PROPERTIES[name]
        if attribute in ("payload_format_indicator", "message_expiry_interval"):
            try:
                number = int(to_str(value))
            except ValueError:
                raise ActionFailed(f"{name} must be a number, not {value!r}") from None
            limit = 1 if attribute == "payload_format_indicator" else 0xFFFFFFFF
            if not 0 <= number <= limit:
                raise ActionFailed(f"{name} out of range: {number}")
            values[attribute] = number
        elif attribute == "correlation_data":
            values[attribute] = value if isinstance(value, bytes) else to_str(value).encode()
        else:
            values[attribute] = to_str(value)
    try:
        return Properties(**values)
    except (TypeError, ValueError) as exc:
        raise ActionFailed(f"invalid MQTT properties: {exc}") from exc
