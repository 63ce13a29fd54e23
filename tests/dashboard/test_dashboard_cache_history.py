"""The dashboard's cache hit-ratio chart and its table are drawn from the per-minute statistics samples of every
process, summed per 15 minutes over the last 24 hours."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from cachectl.models import CacheStatsSample
from tests.dashboard.test_ops_dashboard import get_dashboard, svgs

pytestmark = pytest.mark.django_db
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("ops-root", password="unused-in-tests"))
    return client


def sample(at, lookups: int, hits: int) -> None:
    CacheStatsSample.objects.create(at=at, lookups=lookups, hits=hits, hit_ratio=hits / lookups if lookups else None,
                                    lookups_total=0, hits_total=0)


def test_the_hit_ratio_chart_and_table_come_from_the_samples(staff_client, settings):
    settings.TIME_ZONE = "UTC"
    hour = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    sample(hour + timedelta(minutes=1), 100, 80)
    sample(hour + timedelta(minutes=2), 100, 60)   # same 15 minutes: 140 of 200
    sample(hour + timedelta(minutes=31), 50, 10)   # 10 of 50
    sample(hour + timedelta(minutes=46), 0, 0)     # no lookup: no ratio, not drawn
    sample(hour - timedelta(hours=30), 10, 10)     # older than the chart's 24 hours
    html, parser = get_dashboard(staff_client)
    assert "Cache hit ratio over all processes, last 24 hours (per 15 minutes)" in html
    rows = parser.tables["cache_hit_ratio"]
    assert [row[1:] for row in rows] == [["0.7", "200", "140"], ["0.2", "50", "10"], ["—", "0", "0"]]
    starts = [hour, hour + timedelta(minutes=30), hour + timedelta(minutes=45)]
    assert [row[0] for row in rows] == [f"{t:%Y-%m-%d %H:%M:%S} UTC" for t in starts]
    chart = next(svg for svg in svgs(html) if "Cache hit ratio" in svg.find(f"{SVG}title").text)
    tips = [circle.find(f"{SVG}title").text for circle in chart.iter(f"{SVG}circle")]
    assert tips == [f"{starts[0].astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC: hit ratio 70.0%",
                    f"{starts[1].astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC: hit ratio 20.0%"]
    ET.tostring(chart)  # well-formed


def test_without_samples_the_chart_says_so(staff_client):
    html, parser = get_dashboard(staff_client)
    assert parser.tables["cache_hit_ratio"] == [["No data."]]
