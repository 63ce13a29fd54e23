"""The content type of Analysis follows the model: `features.analysis` becomes `analysis.analysis`.

The row is relabelled in place, so the permissions (`view_analysis`... held by groups and users) and the admin's
log entries that point at it stay attached. When `analysis.analysis` exists already (created by a `migrate` that
ran between `analysis.0001` and this migration), the old type's permissions are merged into the new type's (groups
and users keep what they held), its log entries are moved, and the old type is deleted. Reversible.
"""

from django.conf import settings
from django.db import migrations

MODEL = "analysis"


def _move_content_type(apps, source: str, target: str) -> None:
    content_type_model = apps.get_model("contenttypes", "ContentType")
    permission_model = apps.get_model("auth", "Permission")
    group_model = apps.get_model("auth", "Group")
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    log_entry_model = apps.get_model("admin", "LogEntry")

    old = content_type_model.objects.filter(app_label=source, model=MODEL).first()
    if old is None:  # a fresh database: the type is created for the target app after the migrations
        return
    new = content_type_model.objects.filter(app_label=target, model=MODEL).first()
    if new is None:
        old.app_label = target
        old.save(update_fields=["app_label"])
    else:
        for permission in permission_model.objects.filter(content_type=old):
            twin = permission_model.objects.filter(content_type=new, codename=permission.codename).first()
            if twin is None:
                permission.content_type = new
                permission.save(update_fields=["content_type"])
                continue
            for group in group_model.objects.filter(permissions=permission):
                group.permissions.add(twin)
            for user in user_model.objects.filter(user_permissions=permission):
                user.user_permissions.add(twin)
            permission.delete()
        log_entry_model.objects.filter(content_type=old).update(content_type=new)
        old.delete()
    content_type_model.objects.clear_cache()


def forwards(apps, schema_editor):
    _move_content_type(apps, "features", "analysis")


def backwards(apps, schema_editor):
    _move_content_type(apps, "analysis", "features")


class Migration(migrations.Migration):

    dependencies = [
        ("analysis", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("admin", "0003_logentry_add_action_flag_choices"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
