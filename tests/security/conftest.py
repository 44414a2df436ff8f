"""The security suite (docs/security.md) runs against the same real `tether serve` as tests/adapters: MQTT
with a TLS listener, paho clients and accounts (tests/adapters/conftest.py), on each storage backend."""

from tests.adapters.conftest import accounts, mqtt_devices, mqtt_server, server
from tests.broker.conftest import make_broker

__all__ = ["accounts", "make_broker", "mqtt_devices", "mqtt_server", "server"]
