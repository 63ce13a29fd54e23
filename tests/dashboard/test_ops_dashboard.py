"""The admin index is the ops dashboard: it renders for staff with an empty database and with data, shows each
section, its charts are valid SVG and each chart's table holds the numbers of the database."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import numpy as np
import pytest
from django.utils import timezone

SECTIONS = ("ops-indexes", "ops-model", "ops-cache", "ops-parse-pool", "ops-celery", "ops-charts", "ops-audit")
CHARTS = ("degraded", "cache_hit_ratio", "prewarm", "reloads", "migrations")


class ChartTables(HTMLParser):
    """Collects the cells of each ``<div id="ops-chart-NAME">``'s table, and every ``<time>``'s title."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.times: list[tuple[str, str]] = []
        self._chart = self._row = self._cell = None
        self._time_title = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "div" and (attrs.get("id") or "").startswith("ops-chart-"):
            self._chart = attrs["id"].removeprefix("ops-chart-")
            self.tables[self._chart] = []
        elif tag == "tr" and self._chart and self._in_table:
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = ""
        elif tag == "table" and self._chart:
            self._in_table = True
        elif tag == "time":
            self._time_title = attrs.get("title")
            self._time_text = ""

    _in_table = False

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._row:
                self.tables[self._chart].append(self._row)
            self._row = None
        elif tag == "table" and self._chart:
            self._in_table = False
            self._chart = None
        elif tag == "time" and self._time_title is not None:
            self.times.append((self._time_text, self._time_title))
            self._time_title = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
        if self._time_title is not None:
            self._time_text += data


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("ops-root", password="unused-in-tests"))
    return client


def get_dashboard(client) -> tuple[str, ChartTables]:
    response = client.get("/admin/")
    assert response.status_code == 200
    html = response.content.decode()
    parser = ChartTables()
    parser.feed(html)
    return html, parser


def svgs(html: str) -> list[ET.Element]:
    return [ET.fromstring(m) for m in re.findall(r"<svg xmlns=\"[^\"]+\" width=.*?</svg>", html, flags=re.S)]


def test_anonymous_users_are_sent_to_the_login_page(client, db):
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_empty_database(staff_client):
    html, parser = get_dashboard(staff_client)
    for section in SECTIONS:
        assert f'id="{section}"' in html
    assert set(parser.tables) == set(CHARTS)
    assert len(svgs(html)) == len(CHARTS)
    assert "No index yet" in html
    # A fresh database records its served version the first time anything asks (here: the dashboard), an audited
    # event of its own: the only one there is.
    from vectors.models import VectorOpsAudit

    assert list(VectorOpsAudit.objects.values_list("action", flat=True)) == ["served_version_recorded"]
    assert "served_version_recorded" in html
    assert "none open" in html  # no rollback window
    assert parser.tables["degraded"] == [["No data."]]
    assert parser.tables["migrations"] == [["No data."]]
    # seven days of reload outcomes, all zero
    assert len(parser.tables["reloads"]) == 8 and all(row[1:] == ["0", "0", "0"] for row in parser.tables["reloads"])
    # Django's app list is still there, below the dashboard
    assert html.index('id="ops-audit"') < html.index('class="app-vectors')


@pytest.fixture
def system_with_history(db, settings, tmp_path):
    """Two indexes (v3 degraded), a model activated and a refused reload, a cache change with its window and a
    prewarm run, a migration half way."""
    from cachectl.services import cache_prewarm, cache_settings_apply
    from features.extractors import dimension
    from modelops.models import ModelReloadAttempt
    from modelops.security.reference_models import serialise
    from modelops.services import model_reload, model_version_upload
    from tests.modelops.conftest import fit_for_version
    from vectors.models import MigrationRun
    from vectors.services import vector_upsert
    from vectors.services.index_ops import index_mark_degraded

    settings.CADML_MODEL_DIR = tmp_path / "models"
    settings.CADML_MODEL_DIR.mkdir()
    rng = np.random.default_rng(0)
    for version, count in (("v3", 3), ("v4", 5)):
        for i in range(count):
            vector_upsert(key=f"{version}-{i}", feature_version=version, values=rng.random(dimension(version)))
    index_mark_degraded(feature_version="v3", reason="faiss_error", error="simulated load failure")
    model = model_version_upload(data=serialise(fit_for_version("v4"), container="joblib", protocol=4),
                                 label="rf-dashboard", feature_version="v4", actor="ops-alice")
    model_reload(version=model.pk, actor="ops-alice", reason="first model", action="activate")
    ModelReloadAttempt.objects.create(actor="ops-bob", action="reload", outcome="refused", code="unsafe_pickle",
                                      stage="scan", mode="blacklist", reason="try a bad file")
    cache_settings_apply(actor="ops-alice", reason="more room", capacity=3000)
    cache_prewarm(actor="ops-alice", limit=10, reason="warm up")
    MigrationRun.objects.create(from_version="v3", to_version="v4", status="running", processed=2, total=3,
                                actor="ops-alice")


def test_with_data_every_section_shows_the_state(staff_client, system_with_history):
    from cachectl.models import CachePrewarmRun, CacheSnapshot
    from modelops.models import ModelReloadAttempt

    html, parser = get_dashboard(staff_client)
    indexes = html[html.index('id="ops-indexes"'):html.index('id="ops-model"')]
    v3 = indexes[indexes.index(">v3<"):indexes.index(">v4<")]
    v4 = indexes[indexes.index(">v4<"):]
    assert "degraded</span>" in v3 and "faiss_error" in v3 and "memory" in v3
    assert "healthy</span>" in v4 and "served" in v4 and "faiss" in v4
    assert re.search(r"<td>5</td>\s*<td>\d+</td>\s*</tr>", v4)  # size 5, then the generation
    model = html[html.index('id="ops-model"'):html.index('id="ops-cache"')]
    assert "rf-dashboard" in model and "unsafe_pickle at scan" in model and "refused" in model
    cache = html[html.index('id="ops-cache"'):html.index('id="ops-parse-pool"')]
    assert "capacity 3000" in cache and "left (closes" in cache
    audit = html[html.index('id="ops-audit"'):]
    for actor, action in (("ops-bob", "reload"), ("ops-alice", "activate")):
        assert f"<td>{actor}</td><td>{action}</td>" in audit

    # each chart is valid SVG and its table holds the database's numbers
    assert len(svgs(html)) == len(CHARTS)
    degraded = parser.tables["degraded"]
    assert [(row[0], row[2], row[4]) for row in degraded] == [("v3", "ongoing", "faiss_error")]
    today = timezone.localdate().isoformat()
    reloads = {row[0]: row[1:] for row in parser.tables["reloads"]}
    success = ModelReloadAttempt.objects.filter(outcome="success").count()
    assert reloads[today] == [str(success), "1", str(success + 1)]
    run = CachePrewarmRun.objects.get()
    prewarm_row = parser.tables["prewarm"][0]
    assert prewarm_row[0].startswith(f"#{run.generation} ")
    assert prewarm_row[1:] == [str(run.loaded), str(run.skipped), str(run.failed),
                               str(run.loaded + run.skipped + run.failed)]
    # drawn from the per-minute samples of every process (none taken here), no longer from the snapshots
    assert CacheSnapshot.objects.exists() and parser.tables["cache_hit_ratio"] == [["No data."]]
    migration = parser.tables["migrations"]
    assert len(migration) == 1 and migration[0][1:] == ["running", "2", "3", "66.7"]
    assert migration[0][0].endswith("v3→v4")
    # the degraded spell is a red (ongoing) bar in its chart
    timeline = svgs(html)[0]
    ongoing = [el for el in timeline.iter("{http://www.w3.org/2000/svg}rect") if el.get("class") == "ongoing"]
    assert len(ongoing) == 1


def test_audit_events_only_from_the_tables_the_user_may_view(client, make_staff_user, system_with_history):
    from django.contrib.auth.models import Permission

    user = make_staff_user("ops-carol", roles=())  # staff with no role: no audit table to view
    client.force_login(user)
    html, _ = get_dashboard(client)
    audit = html[html.index('id="ops-audit"'):]
    assert "No audit event yet in the audit tables you may view." in audit
    user.user_permissions.add(Permission.objects.get(codename="view_cacheauditrecord"))
    client.force_login(type(user).objects.get(pk=user.pk))
    html, _ = get_dashboard(client)
    audit = html[html.index('id="ops-audit"'):html.index("</table>", html.index('id="ops-audit"'))]
    assert "<td>cache audit record</td>" in audit and "model reload attempt" not in audit


def test_times_are_in_the_operators_time_zone_with_utc_on_hover(staff_client, system_with_history, settings):
    settings.TIME_ZONE = "America/New_York"
    html, parser = get_dashboard(staff_client)
    assert "times in America/New_York" in html
    assert parser.times
    for shown, title in parser.times:
        assert title.endswith(" UTC")
        assert shown.endswith(("EST", "EDT")), shown
    from vectors.models import IndexState

    since = IndexState.objects.get(feature_version="v3").degraded_since
    assert (timezone.localtime(since, timezone.get_fixed_timezone(0)).strftime("%Y-%m-%d %H:%M:%S UTC"),) in [
        (t,) for _, t in parser.times]
