"""On PostgreSQL, make double booking impossible: no two holding bookings of one
instructor may overlap (btree_gist exclusion constraint). SQLite serialises writers
with immediate transactions instead, so there this migration does nothing."""

from django.db import migrations

CONSTRAINT = "booking_no_overlapping_holds"


def add_constraint(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    schema_editor.execute(
        f"ALTER TABLE bookings_booking ADD CONSTRAINT {CONSTRAINT} EXCLUDE USING gist ("
        " instructor_id WITH =, tstzrange(hold_start, hold_end, '[)') WITH &&"
        ") WHERE (status IN ('pending_payment', 'confirmed'))"
    )


def drop_constraint(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER TABLE bookings_booking DROP CONSTRAINT IF EXISTS {CONSTRAINT}")


class Migration(migrations.Migration):
    dependencies = [("bookings", "0002_booking")]

    operations = [migrations.RunPython(add_constraint, drop_constraint)]
