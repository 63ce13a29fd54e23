"""Health, readiness and liveness endpoints, the metrics export and the landing page."""

from __future__ import annotations

import hashlib
import hmac
import logging

import prometheus_client
from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from prometheus_client import CollectorRegistry
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from cadml_site.errors import DatabaseUnavailable
from cadml_site.api.exceptions import PROBLEM_CONTENT_TYPE, problem_body
from cadml_site.health import health_report
from cadml_site.metrics import DATABASE_GAUGE_COLLECTOR, process_metrics_registry

logger = logging.getLogger("cadml.api")
_status_only = inline_serializer("HealthStatus", fields={"status": serializers.CharField()})


class HealthApi(APIView):
    """Overall status with one section per subsystem. Always 200 while the process answers; read ``status``."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes: list = []

    @extend_schema(
        operation_id="health",
        responses=inline_serializer("Health", fields={"status": serializers.CharField(),
                                                      "sections": serializers.DictField()}),
        tags=["health"],
    )
    def get(self, request):
        return Response(health_report())


class HealthLiveApi(APIView):
    """Liveness: the process serves requests."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes: list = []

    @extend_schema(operation_id="health_live", responses=_status_only, tags=["health"])
    def get(self, request):
        return Response({"status": "ok"})


class HealthReadyApi(APIView):
    """Readiness: 200 when the database answers, 503 ``database_unavailable`` (with Retry-After) otherwise."""

    problem_statuses = {503: "database_unavailable: the database does not answer (Retry-After)"}
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes: list = []

    @extend_schema(operation_id="health_ready", responses={
        200: _status_only,
        503: OpenApiResponse(description="application/problem+json, code database_unavailable, with Retry-After; the "
                                         "driver's error text is logged, never returned."),
    }, tags=["health"])
    def get(self, request):
        try:
            connection.ensure_connection()
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except Exception as exc:
            logger.warning("Readiness: the database is unreachable: %s: %s", type(exc).__name__, exc)
            retry_after = settings.CADML_DATABASE_RETRY_AFTER_SECONDS
            raise DatabaseUnavailable("The database is unreachable.", stage="readiness",
                                      context={"error": type(exc).__name__, "retry_after_seconds": retry_after},
                                      headers={"Retry-After": str(retry_after)}) from exc
        return Response({"status": "ok"})


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()


def metrics_scrape_allowed(request) -> bool:
    """True when CADML_METRICS_TOKEN is unset, or the request carries ``Authorization: Bearer <that token>``.

    The digests of the presented and the configured token are compared with ``hmac.compare_digest``: constant
    time, and the same length whatever was presented."""
    token = settings.CADML_METRICS_TOKEN
    if not token:
        return True
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    matches = hmac.compare_digest(_digest(presented.strip()), _digest(token))
    return scheme.lower() == "bearer" and matches


def metrics_view(request):
    """Prometheus exposition: process metrics (summed over workers in multiprocess mode) + database gauges.

    Behind ``Authorization: Bearer $CADML_METRICS_TOKEN`` when that variable is set (401 otherwise)."""
    if not metrics_scrape_allowed(request):
        body = problem_body(code="metrics_token_required", stage="request",
                            message="/metrics needs Authorization: Bearer <CADML_METRICS_TOKEN>.")
        response = JsonResponse(body, status=401, content_type=PROBLEM_CONTENT_TYPE)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    process_registry = process_metrics_registry()
    database_registry = CollectorRegistry(auto_describe=False)
    database_registry.register(DATABASE_GAUGE_COLLECTOR)
    body = prometheus_client.generate_latest(process_registry) + prometheus_client.generate_latest(database_registry)
    return HttpResponse(body, content_type=prometheus_client.CONTENT_TYPE_LATEST)


def landing_view(request):
    return render(request, "landing.html", {})
