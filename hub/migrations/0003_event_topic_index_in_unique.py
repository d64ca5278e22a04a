"""Drop the event log's index on `topic_id` alone: the unique (topic_id, seq) index
starts with it. Only the index goes (the foreign key stays as it is), so on a large
log this is one quick statement, not a table lock while the key is checked again."""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "hub_event_topic_id_84626bb7"


class Migration(migrations.Migration):
    dependencies = [
        ("hub", "0002_connection_registry"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="event",
                    name="topic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="hub.topic",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{INDEX}"',
                    reverse_sql=f'CREATE INDEX "{INDEX}" ON "hub_event" ("topic_id")',
                ),
            ],
        ),
    ]
