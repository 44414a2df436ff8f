"""In-memory fakes of the store Protocols (tenants/store.py, inventory/store.py, ...), one module per domain.

They keep what the services rely on: every read and write scoped to its tenant, Conflict on duplicates, the
compare-and-set updates the Protocols describe, paging with core/paging.py. The SQL stores remain the real
implementations; tests/storage checks those against SQLite and PostgreSQL.
"""
