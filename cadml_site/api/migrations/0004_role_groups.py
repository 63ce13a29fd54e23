"""Creates the admin role groups (viewer, operator, security admin) with their permissions.

``roles.sync_role_groups`` creates the permissions first (Django creates them only after all migrations have run),
from the historical models, so the groups are complete on a fresh database. See cadml_site/api/roles.py and
docs/security.md, "Admin console: permissions and roles". A later change of the roles needs a new data migration
calling it again.
"""

from django.db import migrations

from cadml_site.api import roles


def create_role_groups(apps, schema_editor):
    roles.sync_role_groups(apps)


def delete_role_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=roles.ALL_ROLES).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("axes", "0010_accessattemptexpiration"),
        ("cadml_api", "0003_credential_permissions"),
        ("features", "0001_initial"),
        ("vectors", "0004_operation_permissions"),
        ("modelops", "0003_operation_permissions"),
        ("cachectl", "0003_operation_permissions"),
    ]

    operations = [migrations.RunPython(create_role_groups, delete_role_groups)]
