from django.db import migrations, models
from django.db.models import F


def copy_last_hit(apps, schema_editor):
    apps.get_model("cachectl", "CacheKeyActivity").objects.update(last_lookup_at=F("last_hit_at"), lookups=F("hits"))


class Migration(migrations.Migration):
    """Recent hits become key activity: lookups (hits and misses) are counted too, for prewarm's frequency tier."""

    dependencies = [("cachectl", "0001_initial")]

    operations = [
        migrations.RemoveConstraint(model_name="cacherecenthit", name="cachectl_recent_hit_key"),
        migrations.RenameModel(old_name="CacheRecentHit", new_name="CacheKeyActivity"),
        migrations.AddField(model_name="cachekeyactivity", name="lookups",
                            field=models.PositiveBigIntegerField(default=0)),
        migrations.AddField(model_name="cachekeyactivity", name="last_lookup_at",
                            field=models.DateTimeField(null=True, db_index=True)),
        migrations.AlterField(model_name="cachekeyactivity", name="last_hit_at",
                              field=models.DateTimeField(blank=True, db_index=True, null=True)),
        migrations.RunPython(copy_last_hit, migrations.RunPython.noop),
        migrations.AlterField(model_name="cachekeyactivity", name="last_lookup_at",
                              field=models.DateTimeField(db_index=True)),
        migrations.AlterModelOptions(
            name="cachekeyactivity",
            options={"ordering": ["-last_lookup_at", "-id"], "verbose_name": "cache key activity",
                     "verbose_name_plural": "cache key activity"},
        ),
        migrations.AddConstraint(
            model_name="cachekeyactivity",
            constraint=models.UniqueConstraint(fields=("sha256", "version"), name="cachectl_key_activity_key"),
        ),
    ]
