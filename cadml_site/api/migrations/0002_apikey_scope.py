"""API key scopes (issue 18): every key that exists keeps today's rights, read and write."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("cadml_api", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="apikey",
            name="scope",
            field=models.CharField(
                choices=[("read", "Read only"), ("read_write", "Read and write")], default="read_write",
                help_text="Read only, or read and write. Fixed at creation: issue a new key to change it.",
                max_length=16),
        ),
    ]
