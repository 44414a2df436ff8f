"""Tether: a self-hosted device-management platform."""

__version__ = "0.1.0"
