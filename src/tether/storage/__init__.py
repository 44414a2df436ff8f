"""Persistence behind small interfaces (base.py), with a SQLite and a PostgreSQL implementation."""
