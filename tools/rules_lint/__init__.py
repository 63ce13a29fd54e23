"""The metrics consistency check (issue 7): the metrics contract, the alert and recording rules, the Grafana
dashboard, the runbooks and the code agree with the metric objects the service registers.

``promql`` finds metric selectors in PromQL; ``consistency`` checks (Django-free); ``catalogue`` reads type and labels
from the real ``prometheus_client`` objects; ``project`` runs the check over this repository (needs Django set up).
Run it with ``manage.py metrics_consistency_check``.
"""
