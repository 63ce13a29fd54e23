import pytest

from cadml_site import metrics

pytestmark = pytest.mark.django_db


def test_metrics_exports_django_and_contract_metrics(client):
    metrics.FEATURE_EXTRACTION_LATENCY.labels(version="v4").observe(0.0002)
    body = client.get("/metrics").content.decode()
    assert "django_http_requests_total_by_method_total" in body or "django_http_requests" in body
    assert 'feature_extraction_latency_seconds_bucket{le="0.00025",version="v4"}' in body


def test_database_backed_gauge_is_read_at_scrape_time(client):
    calls = []

    def source():
        calls.append(1)
        return [({}, 42.0)]

    metrics.register_gauge_source("model_active_load_sequence", source)
    try:
        body = client.get("/metrics").content.decode()
    finally:
        metrics._sources.pop("model_active_load_sequence", None)
    assert "model_active_load_sequence 42.0" in body
    assert calls == [1]


def test_unknown_gauge_source_is_refused():
    with pytest.raises(KeyError):
        metrics.register_gauge_source("not_declared_anywhere", lambda: [])
