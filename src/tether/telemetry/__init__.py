"""Telemetry: measurements, events and alarms recorded about a source (a managed object)."""
