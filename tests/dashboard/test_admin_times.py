"""Every registered admin shows its times in the operator's time zone with the UTC value on hover: each date-time
column of each change list (still sortable by it) and each date-time read-only field of each change page."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.contrib import admin
from django.db import models
from django.urls import reverse

pytestmark = pytest.mark.django_db

OPERATOR_ZONE = "America/New_York"
MOMENT = datetime(2026, 7, 1, 9, 30, 15, tzinfo=UTC)  # for every time a row does not have yet


@pytest.fixture
def a_row_of_everything(settings, tmp_path, admin_user):
    """At least one row of every registered model, every date-time field of each model's first row set."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    from analysis.services import analysis_create
    from cachectl.services import cache_key_activity_record, cache_prewarm, cache_settings_apply
    from cadml_site.api.services import admin_token_issue, api_key_issue
    from features.extractors import dimension
    from modelops.models import OpcodeAuditEntry
    from modelops.security.reference_models import serialise
    from modelops.services import model_reload, model_version_upload
    from tests.features.cad_builders import make_binary_stl, make_box_triangles
    from tests.modelops.conftest import fit_for_version
    from vectors.models import MigrationRun
    from vectors.selectors import served_feature_version
    from vectors.services import vector_upsert
    from vectors.services.index_ops import index_mark_degraded

    settings.CADML_MODEL_DIR = tmp_path / "models"
    settings.CADML_MODEL_DIR.mkdir()
    api_key_issue(name="times", scope="read", actor="ops-alice", reason="times")
    admin_token_issue(username=admin_user.username, name="times", actor="ops-alice", reason="times")
    analysis_create(data=make_binary_stl(make_box_triangles((1.0, 2.0, 3.0))), name="part.stl", classify=False,
                    feature_version="v4")
    served_feature_version()  # a fresh database records its served version: an audited event
    rng = np.random.default_rng(0)
    vector_upsert(key="v3-0", feature_version="v3", values=rng.random(dimension("v3")))
    index_mark_degraded(feature_version="v3", reason="faiss_error", error="simulated")
    MigrationRun.objects.create(from_version="v3", to_version="v4", status="running", processed=1, total=2,
                                actor="ops-alice")
    model = model_version_upload(data=serialise(fit_for_version("v4"), container="joblib", protocol=4),
                                 label="rf-times", feature_version="v4", actor="ops-alice")
    model_reload(version=model.pk, actor="ops-alice", reason="times", action="activate")
    OpcodeAuditEntry.objects.create(kind="opcode", name="GLOBAL", count=1, samples=1, first_seen=MOMENT,
                                    last_seen=MOMENT)
    cache_settings_apply(actor="ops-alice", reason="times", capacity=3000)
    cache_key_activity_record(activity={("a" * 64, "v4"): (1, 2)})
    cache_prewarm(actor="ops-alice", limit=5, reason="times")
    login = {"user_agent": "ua", "ip_address": "127.0.0.1", "username": "someone", "http_accept": "*/*",
             "path_info": "/admin/login/"}
    AccessAttempt.objects.create(**login, get_data="", post_data="", failures_since_start=1)
    AccessFailureLog.objects.create(**login, locked_out=False)
    AccessLog.objects.create(**login)
    for model_class in admin.site._registry:
        row = model_class.objects.order_by("pk").first()
        assert row is not None, f"no {model_class._meta.label} row"
        empty = {f.name: MOMENT for f in time_fields(model_class) if getattr(row, f.attname) is None}
        if empty:
            model_class.objects.filter(pk=row.pk).update(**empty)


def time_fields(model_class) -> list[models.DateTimeField]:
    return [f for f in model_class._meta.concrete_fields if isinstance(f, models.DateTimeField)]


def expected_time(value: datetime) -> str:
    utc = value.astimezone(UTC)
    local = value.astimezone(ZoneInfo(OPERATOR_ZONE))
    return (f'<time datetime="{utc.isoformat().replace("+00:00", "Z")}" '
            f'title="{utc:%Y-%m-%d %H:%M:%S} UTC">{local:%Y-%m-%d %H:%M:%S %Z}</time>')


def cells(html: str, name: str) -> list[str]:
    """The contents of the column ``name`` (a ``td``, or the ``th`` of the linking column), row by row."""
    return re.findall(rf'<t[dh] class="field-{name}[^"]*">(.*?)</t[dh]>', html, flags=re.S)


def readonly_value(html: str, name: str) -> str | None:
    """What a change page shows for the field ``name`` when it is read-only (None: not shown, or an input)."""
    found = re.search(rf'<div class="form-row[^"]*\bfield-{name}\b.*?<div class="readonly">(.*?)</div>', html,
                      flags=re.S)
    return found.group(1) if found else None


@pytest.fixture
def superuser_client(client, admin_user, settings):
    settings.TIME_ZONE = OPERATOR_ZONE
    client.force_login(admin_user)
    return client


def test_every_time_column_and_read_only_time_shows_the_utc_value_on_hover(superuser_client, a_row_of_everything):
    columns = fields_shown = 0
    for model_class, model_admin in admin.site._registry.items():
        opts = model_class._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        page = superuser_client.get(changelist)
        assert page.status_code == 200, changelist
        html = page.content.decode()
        rows = list(model_admin.get_queryset(page.wsgi_request).order_by(*page.context["cl"].get_ordering(
            page.wsgi_request, model_admin.get_queryset(page.wsgi_request)))[:100])
        names = [getattr(item, "__name__", item) for item in model_admin.list_display]
        for field in time_fields(model_class):
            if field.name not in names:
                continue
            columns += 1
            shown = cells(html, field.name)
            assert len(shown) == len(rows), (changelist, field.name)
            for row, cell in zip(rows, shown, strict=True):
                value = getattr(row, field.attname)
                if value is not None:
                    assert expected_time(value) in cell, (changelist, field.name, cell)
            # sorting by the column sorts by the field, both ways
            index = [getattr(item, "__name__", item) for item in page.context["cl"].list_display].index(field.name)
            assert 'class="sortable' in re.search(rf'<th scope="col" class="[^"]*column-{field.name}[^"]*"',
                                                    html).group(0)
            for order, reverse_order in ((str(index), False), (f"-{index}", True)):
                sorted_html = superuser_client.get(changelist, {"o": order}).content.decode()
                titles = re.findall(r'title="([^"]+ UTC)"', "".join(cells(sorted_html, field.name)))
                assert titles == sorted(titles, reverse=reverse_order), (changelist, field.name, order)
        row = model_class.objects.order_by("pk").first()
        change_page = superuser_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change",
                                                   args=[row.pk]))
        assert change_page.status_code == 200
        detail = change_page.content.decode()
        for field in time_fields(model_class):
            shown = readonly_value(detail, field.name)
            if shown is None:
                continue
            fields_shown += 1
            assert expected_time(getattr(row, field.attname)) in shown, (opts.label, field.name, shown)
        assert not re.search(r'<div class="readonly">\w+\.? \d{1,2}, \d{4}, \d', detail), opts.label  # Django's own
    assert columns >= 30 and fields_shown >= 25, (columns, fields_shown)


def test_view_only_pages_show_when_a_row_was_written(client, make_staff_user, settings):
    """A view-only page shows the times no form holds (``created_at``), in the same way."""
    from cachectl.models import CacheAuditRecord
    from cachectl.services import cache_settings_apply

    settings.TIME_ZONE = OPERATOR_ZONE
    cache_settings_apply(actor="ops-alice", reason="a row to view", capacity=3000)
    record = CacheAuditRecord.objects.get()
    client.force_login(make_staff_user("viewer-vic", roles=("viewer",)))
    detail = client.get(reverse("admin:cachectl_cacheauditrecord_change", args=[record.pk])).content.decode()
    assert expected_time(record.created_at) in readonly_value(detail, "created_at")
