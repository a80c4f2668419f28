"""Ordered schema steps; each runs once, in a transaction, in order."""

from regapp import models
from regapp.db import database


def _initial(db):
    db.create_tables(models.FIRST_TABLES, safe=True)


def _one_time_codes(db):
    db.create_tables([models.OneTimeCode], safe=True)


def _registration(db):
    db.create_tables([models.PendingRegistration, models.ConsentEvent], safe=True)


def _refusals(db):
    db.create_tables([models.Refusal], safe=True)


def _add_columns(db, model, names):
    """Add the model's fields ``names`` to its table where they are missing."""
    from playhouse.migrate import SchemaMigrator, migrate

    migrator = SchemaMigrator.from_database(db.obj if hasattr(db, "obj") else db)
    table = model._meta.table_name
    existing = {c.name for c in db.get_columns(table)}
    for name in names:
        if name not in existing:
            migrate(migrator.add_column(table, name, getattr(model, name)))


def _email_steps(db):
    _add_columns(db, models.PendingRegistration, ("phone_confirmed", "email_code_required"))
    db.create_tables([models.EmailConfirmation], safe=True)


def _pending_esia(db):
    _add_columns(db, models.PendingRegistration, ("esia_id",))


def _session_epoch(db):
    _add_columns(db, models.Account, ("session_epoch",))


def _throttle(db):
    db.create_tables([models.SignInThrottle], safe=True)


def _devices(db):
    db.create_tables([models.KnownDevice], safe=True)


#: (version, step): append, never reorder or edit a released step
def _sessions(db):
    db.create_tables([models.WebSession], safe=True)


def _confirmed_email_unique(db):
    """E-mail uniqueness among confirmed addresses only (issue 12)."""
    db.execute_sql('DROP INDEX IF EXISTS "account_email_key"')
    db.execute_sql(f'CREATE UNIQUE INDEX IF NOT EXISTS "{models.CONFIRMED_EMAIL_INDEX}" '
                   'ON "account" ("email_key") WHERE "email_confirmed"')
    db.execute_sql('CREATE INDEX IF NOT EXISTS "account_email_key_any" ON "account" ("email_key")')


def _hyphen_is_a_space(db):
    """R14 (issue 14): name keys made when a hyphen was a letter are made again."""
    from regapp.normalize import name_key

    records = models.RosterRecord
    for row in records.select(records.id, records.last_name, records.first_name,
                              records.patronymic).where(records.name_key.contains("-")):
        records.update(name_key=name_key(row.last_name, row.first_name, row.patronymic)).where(
            records.id == row.id).execute()


def _audit(db):
    """The staff audit trail (issue 16), append-only in the database itself."""
    db.create_tables([models.AuditEvent], safe=True)
    table = models.AuditEvent._meta.table_name
    if "sqlite" in type(db.obj if hasattr(db, "obj") else db).__name__.lower():
        for verb in ("UPDATE", "DELETE"):
            db.execute_sql(f'CREATE TRIGGER IF NOT EXISTS "{table}_no_{verb.lower()}" BEFORE '
                           f'{verb} ON "{table}" BEGIN SELECT RAISE(ABORT, '
                           f"'the audit trail is append-only'); END")
        return
    db.execute_sql(f"""CREATE OR REPLACE FUNCTION "{table}_append_only"() RETURNS trigger
        LANGUAGE plpgsql AS $$ BEGIN
        RAISE EXCEPTION 'the audit trail is append-only'; END $$""")
    db.execute_sql(f'DROP TRIGGER IF EXISTS "{table}_append_only" ON "{table}"')
    db.execute_sql(f'CREATE TRIGGER "{table}_append_only" BEFORE UPDATE OR DELETE ON "{table}" '
                   f'FOR EACH ROW EXECUTE FUNCTION "{table}_append_only"()')


def _staff_jobs(db):
    db.create_tables([models.StaffJob], safe=True)


def _messages_by_recipient(db):
    """A person's messages found by index, not by reading them all (issue 15)."""
    models.Message._schema.create_indexes(safe=True)


STEPS = [
    (1, _initial),
    (2, _one_time_codes),
    (3, _registration),
    (4, _refusals),
    (5, _email_steps),
    (6, _pending_esia),
    (7, _session_epoch),
    (8, _throttle),
    (9, _devices),
    (10, _sessions),
    (11, _confirmed_email_unique),
    (12, _hyphen_is_a_space),
    (13, _audit),
    (14, _staff_jobs),
    (15, _messages_by_recipient),
]


def apply(db):
    """Run the steps the database has not had yet; return the version reached."""
    with db.atomic():
        db.create_tables([models.SchemaVersion], safe=True)
        row = models.SchemaVersion.select().first()
        if row is None:
            row = models.SchemaVersion.create(version=0)
        for version, step in STEPS:
            if version > row.version:
                step(db)
                row.version = version
        row.save()
    return row.version


def upgrade():
    """Create or upgrade the schema of the bound database; safe to run any number of times."""
    with database.connection_context():
        return apply(database)
