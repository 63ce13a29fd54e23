"""Developer and operator tooling run against the service from outside it; not part of the running service.

``stress``: the loopback load client, the three stress scenarios and the soak. ``rules_lint``: the check that the
metrics contract, the Prometheus rules, the Grafana dashboard and the code agree. The ``stress_*`` and
``metrics_consistency_check`` management commands (``cadml_site/observability/management/commands/``) import them
inside their methods; no module a gunicorn or Celery worker imports does (``tests/site/test_worker_imports.py``).
Not a Django app.
"""
