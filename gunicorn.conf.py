"""gunicorn configuration: ``gunicorn -c gunicorn.conf.py cadml_site.wsgi``.

Workers, bind address and timeout come from Django settings (``GUNICORN_*`` variables). Heavy per-process state
(Faiss indexes, the active model, cache settings) is loaded in ``post_fork``, never inherited from the master.
With ``CADML_PARSE_SERVICE_SOCKET`` set, the master starts the host's parse service before forking (``on_starting``),
restarts it if it dies and stops it on exit (``on_exit``): every worker parses through it (one pool per host).
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cadml_site.settings")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

bind = settings.GUNICORN_BIND
workers = settings.GUNICORN_WORKERS
# Sync workers: one request per worker at a time, and a worker accepts a connection only when it is free, so a
# request never queues behind another worker's long parse. gthread (even with one thread) would keep connections
# alive, 0.2 ms less per request, but its main loop accepts while its thread is busy: during 1 s uploads, 60 % of the
# health checks sent on new connections waited for the upload (p50 551 ms against 4.9 ms; bench/bench_head_of_line.py,
# docs/benchmarks.md). Clients that want keep-alive get it from a reverse proxy in front (docs/operations.md).
worker_class = "sync"
timeout = settings.GUNICORN_TIMEOUT
graceful_timeout = 30
accesslog = "-"
preload_app = False
# gunicorn's control socket defaults to one path per user ($HOME/.gunicorn/gunicorn.ctl), which several instances on
# one host (tests, benchmarks, a second deployment) would fight over; we do not use gunicornc.
control_socket_disable = True
wsgi_app = "cadml_site.wsgi:application"


def on_starting(server):
    from features.parse_pool import start_host_parse_service

    status = start_host_parse_service()
    if status is not None:
        server.log.info("parse service pid %s on %s (%s workers)", status["service_pid"], status["socket"],
                        status["workers"])


def on_exit(server):
    from features.parse_pool import stop_host_parse_service

    stop_host_parse_service()


def when_ready(server):
    if not settings.CADML_METRICS_TOKEN:
        from cadml_site.checks import METRICS_OPEN_MESSAGE

        server.log.warning("%s. Set CADML_METRICS_TOKEN to require a bearer token (docs/security.md).",
                           METRICS_OPEN_MESSAGE)


def post_fork(server, worker):
    from cadml_site.process_state import freeze_startup_heap, run_process_initializers

    results = run_process_initializers()
    frozen = freeze_startup_heap()
    server.log.info("worker %s initialised: %s; %d startup objects frozen", worker.pid, results, frozen)


def worker_exit(server, worker):
    from cadml_site.process_state import run_process_finalizers

    run_process_finalizers()


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
