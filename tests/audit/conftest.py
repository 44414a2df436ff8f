"""The audit suites use tests/conftest.py's server; MQTT clients come from the fixture of tests/adapters."""

from tests.adapters.conftest import mqtt_devices

__all__ = ["mqtt_devices"]
