"""HTTP client for the stress scenarios: loopback only, credentials in headers, every call recorded."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests

from tools.stress.scrape import MetricsSnapshot
from tools.stress.stats import LatencySummary


class StressConfigurationError(ValueError):
    """Bad stress options (URL not on loopback, missing credentials, bad bounds)."""


def require_loopback(url: str) -> str:
    """Returns the base URL without a trailing slash if its host resolves only to loopback addresses."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise StressConfigurationError(f"--url must be an http(s) URL with a host, got {url!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise StressConfigurationError(f"--url must be the server's base URL (no path or query), got {url!r}")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except socket.gaierror as exc:
        raise StressConfigurationError(f"cannot resolve {parts.hostname!r}: {exc}") from exc
    addresses = {info[4][0] for info in infos}
    if not addresses or not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
        raise StressConfigurationError(
            f"stress commands only run against a server on this machine (loopback); {parts.hostname!r} resolves "
            f"to {sorted(addresses)}"
        )
    return url.rstrip("/")


@dataclass
class CallRecord:
    operation: str
    status: int | None
    seconds: float
    error: str | None = None


@dataclass
class CallLog:
    """Thread-safe record of every call: latencies per operation and every failure."""

    records: list[CallRecord] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, record: CallRecord) -> None:
        with self.lock:
            self.records.append(record)

    def failures(self) -> list[CallRecord]:
        with self.lock:
            return [r for r in self.records if r.error is not None]

    def summaries(self) -> dict[str, LatencySummary]:
        by_operation: dict[str, list[float]] = defaultdict(list)
        with self.lock:
            for record in self.records:
                if record.error is None:
                    by_operation[record.operation].append(record.seconds)
        return {op: LatencySummary.of(values) for op, values in sorted(by_operation.items())}


class UnexpectedResponse(RuntimeError):
    def __init__(self, operation: str, status: int | None, detail: str):
        super().__init__(f"{operation}: {'HTTP ' + str(status) if status else 'no response'}: {detail}")
        self.operation, self.status, self.detail = operation, status, detail


class StressClient:
    """One ``requests`` session per thread; ops calls send the admin token too."""

    def __init__(self, base_url: str, *, api_key: str, admin_token: str | None = None, timeout: float = 30.0,
                 metrics_token: str | None = None):
        if not api_key:
            raise StressConfigurationError("--api-key is required")
        self.base_url = require_loopback(base_url)
        self.api_key, self.admin_token, self.timeout = api_key, admin_token, timeout
        self.metrics_token = metrics_token  # sent as a bearer token to /metrics (the server's CADML_METRICS_TOKEN)
        self.log = CallLog()
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def headers(self, *, ops: bool) -> dict[str, str]:
        headers = {"X-API-Key": self.api_key}
        if ops:
            if not self.admin_token:
                raise StressConfigurationError("--admin-token is required for this scenario")
            headers["X-Admin-Token"] = self.admin_token
        return headers

    def call(self, operation: str, method: str, path: str, *, ops: bool = False, expect: tuple[int, ...] = (200,),
             record: bool = True, **kwargs) -> requests.Response:
        """Sends one request; raises ``UnexpectedResponse`` (and records a failure) unless its status is expected."""
        headers = {**self.headers(ops=ops), **kwargs.pop("headers", {})}
        started = time.perf_counter()
        try:
            response = self._session().request(method, self.base_url + path, headers=headers, timeout=self.timeout,
                                               **kwargs)
        except requests.RequestException as exc:
            seconds = time.perf_counter() - started
            self.log.add(CallRecord(operation, None, seconds, f"{type(exc).__name__}: {exc}"))
            raise UnexpectedResponse(operation, None, str(exc)) from exc
        seconds = time.perf_counter() - started
        if response.status_code not in expect:
            detail = response.text[:300]
            self.log.add(CallRecord(operation, response.status_code, seconds, detail))
            raise UnexpectedResponse(operation, response.status_code, detail)
        if record:
            self.log.add(CallRecord(operation, response.status_code, seconds))
        return response

    def json(self, operation: str, method: str, path: str, **kwargs):
        response = self.call(operation, method, path, **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            self.log.add(CallRecord(operation, response.status_code, 0.0, "response is not JSON"))
            raise UnexpectedResponse(operation, response.status_code, "response is not JSON") from exc

    def metrics(self) -> MetricsSnapshot:
        headers = {"Authorization": f"Bearer {self.metrics_token}"} if self.metrics_token else {}
        response = self.call("metrics", "GET", "/metrics", record=False, headers=headers)
        return MetricsSnapshot(response.text)
