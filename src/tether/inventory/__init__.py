"""Managed objects: the inventory of devices, groups and assets, and its query language."""
