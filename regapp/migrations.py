"""Ordered schema steps; each runs once, in a transaction, in order."""

from regapp import models


def _initial(db):
    db.create_tables(models.ALL_MODELS, safe=True)


def _one_time_codes(db):
    db.create_tables([models.OneTimeCode], safe=True)


def _registration(db):
    db.create_tables([models.PendingRegistration, models.ConsentEvent], safe=True)


def _refusals(db):
    db.create_tables([models.Refusal], safe=True)


def _email_steps(db):
    from playhouse.migrate import SchemaMigrator, migrate

    migrator = SchemaMigrator.from_database(db.obj if hasattr(db, "obj") else db)
    columns = {c.name for c in db.get_columns(models.PendingRegistration._meta.table_name)}
    table = models.PendingRegistration._meta.table_name
    for name in ("phone_confirmed", "email_code_required"):
        if name not in columns:
            migrate(migrator.add_column(table, name, getattr(models.PendingRegistration, name)))
    db.create_tables([models.EmailConfirmation], safe=True)


#: (version, step): append, never reorder or edit a released step
STEPS = [
    (1, _initial),
    (2, _one_time_codes),
    (3, _registration),
    (4, _refusals),
    (5, _email_steps),
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
