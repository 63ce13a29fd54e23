"""The Analysis model moved to the analysis app (`analysis.0001_initial`): removed from this app's state only.

Its table, `features_analysis`, and its rows stay where they are; the analysis app's model keeps that table name.
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("features", "0004_cadfile_thumbnail"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Analysis")],
            database_operations=[],
        ),
    ]
