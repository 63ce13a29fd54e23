"""The Analysis model, moved here from the features app (`features.0005`): added to this app's state only.

The table `features_analysis` already exists with these columns, indexes and rows (created by `features.0001`,
altered by `features.0002`): nothing is created or copied.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("features", "0005_analysis_moved_to_analysis_app"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Analysis",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                                   verbose_name="ID")),
                        ("feature_version", models.CharField(choices=[("v1", "v1"), ("v2", "v2"), ("v3", "v3"),
                                                                      ("v4", "v4"), ("v5", "v5")], max_length=8)),
                        ("values", models.JSONField()),
                        ("reused_file", models.BooleanField(default=False,
                                                            help_text="The content had been parsed before.")),
                        ("timings", models.JSONField(default=dict)),
                        ("sections", models.JSONField(default=dict)),
                        ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        ("cad_file", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT,
                                                       related_name="analyses", to="features.cadfile")),
                    ],
                    options={
                        "verbose_name_plural": "analyses",
                        "db_table": "features_analysis",
                        "ordering": ["-created_at", "-id"],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
