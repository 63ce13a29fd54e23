"""The Analysis model moved from the features app to the analysis app without touching its table: a database
migrated before the move keeps its rows, and the model's permissions (held by groups and users) and admin log
entries follow it to the `analysis` app label."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE_THE_MOVE = ("features", "0004_cadfile_thumbnail")


def migrate_to_before_the_move():
    """Unapplies the move (features.0005, analysis.*) and returns the historical models of that state."""
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE_THE_MOVE, ("analysis", None)])
    executor.loader.build_graph()
    nodes = [node for node in executor.loader.graph.leaf_nodes() if node[0] not in ("features", "analysis")]
    return executor.loader.project_state([*nodes, BEFORE_THE_MOVE]).apps


def migrate_to_the_latest():
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def make_legacy_rows(apps):
    """What an installation had before the move: a file, two analyses, a group and a user holding permissions of
    `features.analysis`, and an admin log entry about an analysis."""
    cad_file = apps.get_model("features", "CadFile").objects.create(
        sha256="ab" * 32, size=84, original_name="bracket.stl", format="stl", parser="numpy-stl", parse_seconds=0.01,
        summary={"format": "stl"})
    analysis_model = apps.get_model("features", "Analysis")
    first = analysis_model.objects.create(cad_file=cad_file, feature_version="v4", values=[1.0, 2.0],
                                          sections={"cache": {"hit": False}})
    second = analysis_model.objects.create(cad_file=cad_file, feature_version="v5", values=[3.0], reused_file=True)
    content_type = apps.get_model("contenttypes", "ContentType").objects.get(app_label="features", model="analysis")
    permission = apps.get_model("auth", "Permission")
    group = apps.get_model("auth", "Group").objects.create(name="legacy analysts")
    group.permissions.add(permission.objects.get(content_type=content_type, codename="view_analysis"))
    user = apps.get_model("auth", "User").objects.create(username="legacy-ops", is_staff=True)
    user.user_permissions.add(permission.objects.get(content_type=content_type, codename="change_analysis"))
    user.groups.add(group)
    apps.get_model("admin", "LogEntry").objects.create(
        user=user, content_type=content_type, object_id=str(first.pk), object_repr="analysis", action_flag=2,
        change_message="[]")
    return {"first": first.pk, "second": second.pk, "content_type": content_type.pk}


def assert_moved(legacy, content_type_id):
    from django.contrib.admin.models import LogEntry
    from django.contrib.auth.models import Group, User
    from django.contrib.contenttypes.models import ContentType

    from analysis.models import Analysis

    ContentType.objects.clear_cache()
    assert ContentType.objects.get_for_model(Analysis).pk == content_type_id
    assert not ContentType.objects.filter(app_label="features", model="analysis").exists()
    first, second = Analysis.objects.get(pk=legacy["first"]), Analysis.objects.get(pk=legacy["second"])
    assert (first.feature_version, first.values, first.sections) == ("v4", [1.0, 2.0], {"cache": {"hit": False}})
    assert (second.feature_version, second.values, second.reused_file) == ("v5", [3.0], True)
    assert first.cad_file.original_name == "bracket.stl"
    group = Group.objects.get(name="legacy analysts")
    assert {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()} == {"analysis.view_analysis"}
    user = User.objects.get(username="legacy-ops")
    assert user.has_perm("analysis.change_analysis") and user.has_perm("analysis.view_analysis")
    assert not user.has_perm("features.view_analysis")
    assert LogEntry.objects.get(object_id=str(legacy["first"])).content_type_id == content_type_id


def test_rows_permissions_and_log_entries_follow_the_model():
    apps = migrate_to_before_the_move()
    legacy = make_legacy_rows(apps)
    migrate_to_the_latest()
    assert_moved(legacy, legacy["content_type"])  # the same content type row, relabelled


def test_an_analysis_content_type_created_meanwhile_is_merged_into():
    """`analysis.analysis` exists already (a `migrate` ran between analysis.0001 and 0002 and created it, with its
    own permissions): the old type's grants and log entries are carried over to it and the old type removed."""
    apps = migrate_to_before_the_move()
    legacy = make_legacy_rows(apps)
    content_type_model = apps.get_model("contenttypes", "ContentType")
    meanwhile = content_type_model.objects.create(app_label="analysis", model="analysis")
    apps.get_model("auth", "Permission").objects.create(content_type=meanwhile, codename="view_analysis",
                                                        name="Can view analysis")
    migrate_to_the_latest()
    assert_moved(legacy, meanwhile.pk)
    from django.contrib.auth.models import Permission

    assert Permission.objects.filter(content_type_id=meanwhile.pk, codename="change_analysis").count() == 1
