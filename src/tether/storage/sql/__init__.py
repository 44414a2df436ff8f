"""The SQL implementation of the storage interfaces (SQLAlchemy Core), shared by SQLite and PostgreSQL.

What differs between the two databases (JSON paths, engine set-up, write serialisation) is a
`Dialect`, implemented in storage/sqlite.py and storage/postgresql.py.
"""
