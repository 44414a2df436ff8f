"""PostgreSQL: the foreign key measurements.source_id -> managed_objects is replaced by two statement-level
triggers that keep its meaning at a fraction of its cost on the ingest path (bench/README.md, "Issue 20").

The key checked every inserted row (`SELECT 1 FROM managed_objects ... FOR KEY SHARE` per row): about 4 us of
the ~10-12 us a row PostgreSQL spent on a 500-row COPY. Instead:
- `tether_measurement_sources`, after every INSERT (COPY included) or UPDATE of measurements: locks the
  distinct sources of the statement's rows once each (FOR KEY SHARE, in id order) and refuses the statement
  (foreign_key_violation, as the key did) unless every (tenant_id, source_id) is a managed object of that
  tenant. Stricter than the key, which did not look at the tenant.
- `tether_measurements_of_deleted`, after every DELETE of managed objects (cascades from other tables
  included): deletes their measurements in the same transaction, as ON DELETE CASCADE did, by (tenant_id,
  source_id) so that the index serves it (the key's cascade could not use it: its indexes start with the
  tenant).
Races are those of the key: an insert holds its sources' KEY SHARE locks until it commits, so a deletion of
one of them waits for it and then deletes its rows (the trigger's DELETE runs after the managed object's, in
READ COMMITTED each statement sees what committed before it); an insert whose source was deleted first
finds it gone when it takes its lock and fails whole.

SQLite keeps its key (no per-row cost worth a rebuild of the table there). schema.py keeps the ForeignKey: it
is SQLite's schema, and it orders the tables children first (storage/sql/tenants.py purge).

Revision ID: 0025
Revises: 0024
"""

from __future__ import annotations

from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

_CHECK = """
CREATE FUNCTION tether_measurement_sources() RETURNS trigger LANGUAGE plpgsql AS $body$
DECLARE
  ids bigint[];
  owners text[];
  matched bigint;
BEGIN
  SELECT array_agg(source_id), array_agg(tenant_id) INTO ids, owners
    FROM (SELECT DISTINCT source_id, tenant_id FROM new_rows) AS pairs;
  IF ids IS NULL THEN
    RETURN NULL;
  END IF;
  WITH locked AS MATERIALIZED (
    SELECT id, tenant_id FROM managed_objects WHERE id = ANY(ids) ORDER BY id FOR KEY SHARE
  )
  SELECT count(*) INTO matched
    FROM locked JOIN unnest(ids, owners) AS wanted(id, tenant_id) USING (id, tenant_id);
  IF matched <> cardinality(ids) THEN
    RAISE EXCEPTION 'a measurement''s source managed object does not exist'
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END
$body$
"""

_CASCADE = """
CREATE FUNCTION tether_measurements_of_deleted() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
  DELETE FROM measurements AS m USING old_rows AS o
    WHERE m.tenant_id = o.tenant_id AND m.source_id = o.id;
  RETURN NULL;
END
$body$
"""

_TRIGGERS = (
    "CREATE TRIGGER tether_measurement_sources AFTER INSERT ON measurements "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tether_measurement_sources()",
    "CREATE TRIGGER tether_measurement_sources_update AFTER UPDATE ON measurements "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tether_measurement_sources()",
    "CREATE TRIGGER tether_measurements_of_deleted AFTER DELETE ON managed_objects "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION tether_measurements_of_deleted()",
)


def _source_key() -> str | None:
    found = op.get_bind().exec_driver_sql(
        "SELECT conname FROM pg_constraint WHERE conrelid = 'measurements'::regclass AND contype = 'f'"
    )
    row = found.first()
    return None if row is None else str(row[0])


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    key = _source_key()
    if key is not None:
        op.execute(f'ALTER TABLE measurements DROP CONSTRAINT "{key}"')
    op.execute(_CHECK)
    op.execute(_CASCADE)
    for statement in _TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER tether_measurements_of_deleted ON managed_objects")
    op.execute("DROP TRIGGER tether_measurement_sources_update ON measurements")
    op.execute("DROP TRIGGER tether_measurement_sources ON measurements")
    op.execute("DROP FUNCTION tether_measurements_of_deleted()")
    op.execute("DROP FUNCTION tether_measurement_sources()")
    op.execute(
        "ALTER TABLE measurements ADD CONSTRAINT measurements_source_id_fkey FOREIGN KEY (source_id) "
        "REFERENCES managed_objects (id) ON DELETE CASCADE"
    )
