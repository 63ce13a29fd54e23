"""Every custom Prometheus metric of the service, declared once.

The names are a contract used by ``prometheus/rules/`` and ``grafana/dashboards/``: never rename one. Labels take
bounded values only (versions, backends, fixed result/status/code vocabularies, size ranges).

Two kinds of metric live here:

* process metrics (counters, histograms, a few gauges) updated by the code that does the work. With
  ``PROMETHEUS_MULTIPROC_DIR`` set, every gunicorn and Celery worker on the host writes its samples there and the
  ``/metrics`` view sums them, so the scraped numbers are the totals over all workers;
* database-backed gauges (``DB_GAUGES``): state that lives in the database (degraded spells, rollback windows...) is
  read at scrape time through sources the apps register with ``register_gauge_source``. Whichever process changed
  the state, web or Celery, the scrape reports the database's truth.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger("cadml.metrics")

FAST_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
SLOW_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

# ---- features -------------------------------------------------------------------------------------------------
FEATURE_EXTRACTION_LATENCY = Histogram(
    "feature_extraction_latency_seconds", "Time to extract a feature vector from a document summary.",
    ["version"], buckets=FAST_BUCKETS,
)
CAD_PARSE_LATENCY = Histogram(
    "cad_parse_latency_seconds", "Time to parse an uploaded CAD file into a document summary.",
    ["format"], buckets=SLOW_BUCKETS,
)
CAD_PARSE_FAILURES = Counter(
    "cad_parse_failures_total", "CAD files that could not be parsed, by format and reason code.",
    ["format", "reason"],
)

# ---- vectors ----------------------------------------------------------------------------------------------------
VECTOR_QUERY_LATENCY = Histogram(
    "vector_query_latency_seconds", "Similarity query latency by the backend that answered.",
    ["backend"], buckets=FAST_BUCKETS,
)
VECTOR_QUERY_BATCH_LATENCY = Histogram(
    "vector_query_batch_latency_seconds", "Batch similarity latency by batch size range.",
    ["batch_size_range"], buckets=SLOW_BUCKETS,
)
BATCH_SIZE_RANGES = ("1-10", "11-100", "101-1000")


def batch_size_range(size: int) -> str:
    """Maps a batch size to its bounded label value."""
    if size <= 10:
        return "1-10"
    if size <= 100:
        return "11-100"
    return "101-1000"


VECTOR_MIGRATE_TOTAL = Counter(
    "vector_migrate", "Vector migration runs by final status (success, failed, dry_run, resumed).", ["status"],
)
VECTOR_MIGRATE_DIMENSION_DELTA = Gauge(
    "vector_migrate_dimension_delta", "Dimension change (target minus source) of the latest migration.",
    multiprocess_mode="mostrecent",
)
SIMILARITY_DEGRADED_TOTAL = Counter(
    "similarity_degraded", "Degraded-mode events (degraded, restored, recovery_failed, suppressed, "
    "manual_override, drill).", ["event"],
)
FAISS_RECOVERY_ATTEMPTS_TOTAL = Counter(
    "faiss_recovery_attempts", "Index recovery attempts by result (success, error, skipped, suppressed).",
    ["result"],
)
INDEX_SNAPSHOT_TRANSFERS_TOTAL = Counter(
    "index_snapshot_transfers", "Index snapshots published to or fetched from the shared snapshot storage, by "
    "direction (publish, fetch) and result (success, missing, corrupt, error).", ["direction", "result"],
)

# ---- modelops ---------------------------------------------------------------------------------------------------
MODEL_OPCODE_AUDIT_TOTAL = Counter("model_opcode_audit", "Pickle opcodes observed by the model scanner.")
MODEL_OPCODE_WHITELIST_VIOLATIONS_TOTAL = Counter(
    "model_opcode_whitelist_violations", "Opcodes or globals outside the allow-list seen in whitelist mode.",
)
MODEL_RELOAD_TOTAL = Counter(
    "model_reload", "Model reload attempts by outcome code (success or an error code).", ["code"],
)
MODEL_RELOAD_DURATION = Histogram(
    "model_reload_duration_seconds", "Duration of a model reload attempt, intake to swap.", buckets=SLOW_BUCKETS,
)

# ---- cachectl ---------------------------------------------------------------------------------------------------
FEATURE_CACHE_HITS_TOTAL = Counter("feature_cache_hits", "Feature cache lookups answered from a cache tier.")
FEATURE_CACHE_MISSES_TOTAL = Counter("feature_cache_misses", "Feature cache lookups that missed every tier.")
FEATURE_CACHE_PREWARM_TOTAL = Counter(
    "feature_cache_prewarm", "Entries handled by cache prewarm, by result (loaded, skipped, failed).", ["result"],
)


# ---- admin login throttling (issue 18) ----------------------------------------------------------------------------
ADMIN_LOGIN_FAILURES_TOTAL = Counter(
    "admin_login_failures", "Failed admin console logins (wrong credentials, or refused while locked out).",
)
ADMIN_LOGIN_LOCKOUTS_TOTAL = Counter(
    "admin_login_lockouts", "Failed admin console logins at or beyond the limit: the username or address is locked.",
)

def process_metrics_registry() -> CollectorRegistry:
    """The process metrics as ``/metrics`` publishes them: summed over every worker's files in multiprocess mode
    (``PROMETHEUS_MULTIPROC_DIR``), this process's own otherwise."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return prometheus_client.REGISTRY


# ---- database-backed gauges -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class DbGauge:
    name: str
    documentation: str
    labelnames: tuple[str, ...] = ()


DB_GAUGES: dict[str, DbGauge] = {
    g.name: g
    for g in (
        DbGauge("faiss_degraded_duration_seconds",
                "Seconds in the current degraded spell of the index (longest over feature versions); 0 when healthy."),
        DbGauge("faiss_flap_suppression_active",
                "1 while automatic index recovery is paused by flap suppression, else 0."),
        DbGauge("feature_cache_rollback_window_age_seconds",
                "Seconds since the open cache rollback window was opened; 0 when none is open."),
        DbGauge("feature_cache_rollback_window_limit_seconds",
                "Configured length of the cache rollback window, in seconds."),
        DbGauge("model_active_load_sequence", "Load sequence number of the active classification model."),
    )
}

GaugeSource = Callable[[], Iterable[tuple[dict[str, str], float]]]
_sources: dict[str, GaugeSource] = {}
_sources_lock = threading.Lock()


def register_gauge_source(name: str, source: GaugeSource) -> None:
    """Registers the function that reads a database-backed gauge; it returns ``[(labels, value), ...]``."""
    if name not in DB_GAUGES:
        raise KeyError(f"{name} is not declared in cadml_site.metrics.DB_GAUGES")
    with _sources_lock:
        _sources[name] = source


class DatabaseGaugeCollector(Collector):
    """Collects the database-backed gauges at scrape time."""

    def collect(self):
        with _sources_lock:
            sources = dict(_sources)
        for name, spec in DB_GAUGES.items():
            source = sources.get(name)
            if source is None:
                continue
            family = GaugeMetricFamily(name, spec.documentation, labels=list(spec.labelnames))
            try:
                for labels, value in source():
                    family.add_metric([labels[label] for label in spec.labelnames], float(value))
            except Exception:  # a scrape must not fail because one source could not read the database
                logger.exception("Database-backed gauge %s could not be read", name)
                continue
            yield family


DATABASE_GAUGE_COLLECTOR = DatabaseGaugeCollector()

# ---- observability (issue 7) ------------------------------------------------------------------------------------
# Memory and garbage-collector activity of the web worker processes, published by
# cadml_site.observability.process_stats at most once a second per process (at the end of a request). With several
# workers the scrape reports the sum (or the largest worker) over the live processes.
PROCESS_RESIDENT_MEMORY = Gauge(
    "cadml_process_resident_memory_bytes", "Resident memory of the web worker processes (sum over live workers).",
    multiprocess_mode="livesum",
)
PROCESS_RESIDENT_MEMORY_MAX = Gauge(
    "cadml_process_resident_memory_max_bytes", "Resident memory of the largest live web worker process.",
    multiprocess_mode="livemax",
)
GC_COLLECTIONS_TOTAL = Counter(
    "cadml_gc_collections", "Garbage-collector runs in the web worker processes, by generation.", ["generation"],
)
GC_OBJECTS_TOTAL = Counter(
    "cadml_gc_objects", "Objects found by the garbage collector, by generation and outcome (collected, "
    "uncollectable).", ["generation", "outcome"],
)
GC_GENERATIONS = ("0", "1", "2")
GC_OUTCOMES = ("collected", "uncollectable")

# ---- reliability (issue 16) -------------------------------------------------------------------------------------
# Requests answered 503 `database_unavailable` because the database could not be reached, by where the error was
# caught: the API's problem handler ("api") or the site middleware / handler500 for admin, landing and others ("site").
DATABASE_UNAVAILABLE_TOTAL = Counter(
    "cadml_database_unavailable_responses", "Requests answered 503 database_unavailable (database unreachable).",
    ["surface"],
)

# Labelled counters and histograms that rules read with increase()/rate() exist at 0 for every value of their
# bounded vocabulary, so that the first events are an increase from 0 rather than a series born at its first value
# (which increase() and rate() cannot see).
PREINITIALISED_LABELS: dict[Counter | Histogram, tuple[str, ...]] = {
    FEATURE_EXTRACTION_LATENCY: ("v1", "v2", "v3", "v4"),
    VECTOR_QUERY_LATENCY: ("faiss", "memory"),
    VECTOR_QUERY_BATCH_LATENCY: BATCH_SIZE_RANGES,
    FAISS_RECOVERY_ATTEMPTS_TOTAL: ("success", "error", "skipped", "suppressed"),
    SIMILARITY_DEGRADED_TOTAL: ("degraded", "restored", "recovery_failed", "suppressed", "manual_override", "drill"),
    VECTOR_MIGRATE_TOTAL: ("success", "failed", "dry_run", "resumed", "interrupted"),
    MODEL_RELOAD_TOTAL: ("success", "size_exceeded", "magic_invalid", "hash_mismatch", "opcode_blocked",
                         "opcode_scan_error", "rollback"),
    FEATURE_CACHE_PREWARM_TOTAL: ("loaded", "skipped", "failed"),
    DATABASE_UNAVAILABLE_TOTAL: ("api", "site"),
}


def preinitialise_labels() -> None:
    """Creates the zero-valued series; run after fork in each worker (never in the gunicorn master)."""
    for metric, values in PREINITIALISED_LABELS.items():
        for value in values:
            metric.labels(value)
    for generation in GC_GENERATIONS:
        GC_COLLECTIONS_TOTAL.labels(generation=generation)
        for outcome in GC_OUTCOMES:
            GC_OBJECTS_TOTAL.labels(generation=generation, outcome=outcome)


# ---- end observability ------------------------------------------------------------------------------------------
