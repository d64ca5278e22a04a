from datetime import timedelta

from django.db import migrations, models
from django.db.models import F
from django.db.models.functions import Coalesce


def expire_from_last_use(apps, schema_editor):
    """Tokens issued before lifetimes: 30 days from their last use (or creation)."""
    ApiToken = apps.get_model("accounts", "ApiToken")
    ApiToken.objects.update(
        expires_at=Coalesce(F("last_used_at"), F("created_at")) + timedelta(days=30)
    )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(editable=False, null=True),
        ),
        migrations.RunPython(expire_from_last_use, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(editable=False),
        ),
        migrations.AddIndex(
            model_name="apitoken",
            index=models.Index(fields=["expires_at"], name="accounts_ap_expires_46b4e5_idx"),
        ),
    ]
