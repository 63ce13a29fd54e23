"""The admin roles: Django groups created by the data migration ``cadml_api.0004_role_groups``.

- ``viewer``: sees the domain apps (features, vectors, modelops, cachectl, analysis) and runs nothing.
- ``operator``: viewer, plus every operation permission (model upload/reload/rollback, index recover/rebuild/drill,
  vector migration and deletion, cache apply/rollback/restore/prewarm).
- ``security admin``: API keys and admin tokens (view, issue, rename, revoke), their audit trail, the users list
  and the login lockouts (view, and delete an attempt to unlock).

Users and group membership are managed by superusers only: whoever may change users may grant any role.
"""

from __future__ import annotations

from django.apps import apps as global_apps

VIEWER = "viewer"
OPERATOR = "operator"
SECURITY_ADMIN = "security admin"
ALL_ROLES = (VIEWER, OPERATOR, SECURITY_ADMIN)

# The apps whose every model a viewer may see (view_* permissions).
VIEWER_APPS = ("features", "vectors", "modelops", "cachectl", "analysis")

OPERATOR_PERMISSIONS = (
    "modelops.upload_model",
    "modelops.reload_model",
    "modelops.rollback_model",
    "vectors.recover_index",
    "vectors.rebuild_index",
    "vectors.drill_index",
    "vectors.migrate_vectors",
    "vectors.delete_vector",
    "cachectl.apply_cache_settings",
    "cachectl.rollback_cache",
    "cachectl.restore_cache_snapshot",
    "cachectl.prewarm_cache",
)

SECURITY_ADMIN_PERMISSIONS = (
    "cadml_api.view_apikey",
    "cadml_api.view_admintoken",
    "cadml_api.change_apikey",  # the name only: everything else about a credential is read-only
    "cadml_api.change_admintoken",
    "cadml_api.view_credentialauditrecord",
    "cadml_api.issue_credential",
    "cadml_api.revoke_credential",
    "auth.view_user",
    "axes.view_accessattempt",
    "axes.delete_accessattempt",
    "axes.view_accessfailurelog",
    "axes.view_accesslog",
)


def sync_role_groups(apps=global_apps) -> None:
    """Creates (or resets) the three groups with exactly their permissions; ``apps`` is the migration's historical
    registry in the data migration. Permissions are created first: Django makes them only after migrations ran."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        if apps is not global_apps:
            app_config.models_module = True  # historical app configs have none; create_permissions needs one
        create_permissions(app_config, apps=apps, verbosity=0)
        if apps is not global_apps:
            app_config.models_module = None

    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")

    def named(perms):
        found = []
        for perm in perms:
            app_label, codename = perm.split(".", 1)
            found.append(permission_model.objects.get(content_type__app_label=app_label, codename=codename))
        return found

    viewing = list(permission_model.objects.filter(content_type__app_label__in=VIEWER_APPS,
                                                   codename__startswith="view_"))
    members = {
        VIEWER: viewing,
        OPERATOR: viewing + named(OPERATOR_PERMISSIONS),
        SECURITY_ADMIN: named(SECURITY_ADMIN_PERMISSIONS),
    }
    for name, permissions in members.items():
        group, _ = group_model.objects.get_or_create(name=name)
        group.permissions.set(permissions)
