"""``CadmlClient``: the CAD ML Platform API over httpx, with problem-details exceptions and bounded retries."""

from __future__ import annotations

import email.utils
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Union
from urllib.parse import quote

import httpx

from cadml_client.errors import ProblemError
from cadml_client.operations import OPERATIONS, Operation

FileInput = Union[str, "os.PathLike[str]", bytes, IO[bytes]]
JSON = dict[str, Any]
RETRY_STATUSES = (429, 503)


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of 429 and 503 answers: at most ``attempts`` tries in all. The wait is the answer's
    ``Retry-After`` (seconds or an HTTP date) when it has one, else ``backoff`` doubled at each try (with up to
    10 % jitter), never more than ``max_wait`` seconds: an answer asking for a longer wait is raised at once."""

    attempts: int = 4
    backoff: float = 0.5
    max_wait: float = 60.0

    def wait(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before try ``attempt + 1`` (``attempt`` counts from 1), or None to give up."""
        if attempt >= self.attempts:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_wait else None
        delay = self.backoff * 2.0 ** (attempt - 1)
        return min(self.max_wait, delay * (1 + random.random() / 10))


NO_RETRY = RetryPolicy(attempts=1)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3); None when absent or bad."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def _file_part(file: FileInput, filename: str | None) -> tuple[str, bytes]:
    """(name, bytes): read once, so that a retried upload sends the same bytes again."""
    if isinstance(file, bytes):
        return filename or "upload.bin", file
    if isinstance(file, (str, os.PathLike)):
        path = Path(file)
        return filename or path.name, path.read_bytes()
    data = file.read()
    return filename or Path(getattr(file, "name", "upload.bin")).name, data


def _clean(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class CadmlClient:
    """A client of one CAD ML Platform server.

    ``api_key`` is sent as ``X-API-Key`` with every call; ``admin_token`` (a staff user's) as ``X-Admin-Token``,
    which the ops calls need. Answers are returned as decoded JSON; error answers raise :class:`ProblemError`.
    ``transport`` (an ``httpx.BaseTransport``) and ``sleep`` are for tests and special set-ups.
    """

    def __init__(self, base_url: str, *, api_key: str, admin_token: str | None = None, timeout: float = 60.0,
                 retry: RetryPolicy = RetryPolicy(), transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep, headers: Mapping[str, str] | None = None) -> None:
        base_headers = {"X-API-Key": api_key, "Accept": "application/json, application/problem+json",
                        **(headers or {})}
        if admin_token:
            base_headers["X-Admin-Token"] = admin_token
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=base_headers, timeout=timeout,
                                  transport=transport)
        self.retry = retry
        self._sleep = sleep

    # ---- plumbing -----------------------------------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CadmlClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def call(self, name: str, *, path: Mapping[str, Any] | None = None, query: Mapping[str, Any] | None = None,
             body: Mapping[str, Any] | None = None, files: Mapping[str, tuple[str, bytes]] | None = None) -> Any:
        """Call operation ``name`` of :data:`cadml_client.operations.OPERATIONS`; None values are not sent."""
        op = OPERATIONS[name]
        path, query, body = dict(path or {}), _clean(query or {}), _clean(body or {})
        self._check(name, op, path, query, body, files or {})
        url = op.path.format(**{k: quote(str(v), safe="") for k, v in path.items()})
        request: dict[str, Any] = {"params": query or None}
        if files:
            request["files"] = dict(files)
            request["data"] = {k: v if isinstance(v, str) else _form_value(v) for k, v in body.items()}
        elif body or op.method == "POST":
            request["json"] = body
        response = self._send(op.method, url, request)
        return response.content if op.binary else (response.json() if response.content else None)

    @staticmethod
    def _check(name: str, op: Operation, path: Mapping[str, Any], query: Mapping[str, Any],
               body: Mapping[str, Any], files: Mapping[str, Any]) -> None:
        if set(path) != op.path_params:
            raise ValueError(f"{name}: path parameters {sorted(path)} != {sorted(op.path_params)}")
        unknown = ([k for k in query if not op.accepts_query(k)] + [k for k in body if k not in op.body]
                   + [k for k in files if k not in op.files])
        if unknown:
            raise ValueError(f"{name}: not parameters of {op.method} {op.path}: {unknown}")

    def _json(self, name: str, **parts: Any) -> JSON:
        """``call`` for the operations that answer a JSON object."""
        result = self.call(name, **parts)
        if not isinstance(result, dict):
            raise ProblemError(status=200, code="unexpected_answer", message=f"{name}: expected a JSON object",
                               body=result)
        return result

    def _send(self, method: str, url: str, request: dict[str, Any]) -> httpx.Response:
        attempt = 0
        while True:
            attempt += 1
            response = self._http.request(method, url, **request)
            if response.is_success:
                return response
            error = self._problem(response)
            wait = self.retry.wait(attempt, error.retry_after) if error.status in RETRY_STATUSES else None
            if wait is None:
                raise error
            self._sleep(wait)

    @staticmethod
    def _problem(response: httpx.Response) -> ProblemError:
        try:
            body = response.json()
        except ValueError:
            body = None
        return ProblemError.from_body(response.status_code, body, text=response.text,
                                      retry_after=parse_retry_after(response.headers.get("Retry-After")),
                                      request_id=response.headers.get("X-Request-ID"))

    # ---- parts ----------------------------------------------------------------------------------------------------
    def health(self) -> JSON:
        return self._json("health")

    def analyze(self, file: FileInput, *, filename: str | None = None, feature_version: str | None = None,
                register_vector: bool | None = None, classify: bool | None = None, similar_k: int | None = None,
                vector_key: str | None = None) -> JSON:
        """Upload a CAD file (path, bytes or binary file object): its document, features and, unless told not
        to, its registered vector, classification and ``similar_k`` nearest parts."""
        return self._json("analyze", files={"file": _file_part(file, filename)}, body={
            "feature_version": feature_version, "register_vector": register_vector, "classify": classify,
            "similar_k": similar_k, "vector_key": vector_key})

    def analysis(self, analysis_id: int) -> JSON:
        return self._json("analysis_get", path={"analysis_id": analysis_id})

    # ---- stored files -------------------------------------------------------------------------------------------
    def original(self, sha256: str) -> bytes:
        """The uploaded original of a file, byte-exact (404 `original_not_stored` for a file stored before
        originals were kept)."""
        data: bytes = self.call("file_content", path={"sha256": sha256})
        return data

    def thumbnail(self, sha256: str) -> bytes:
        """The PNG thumbnail of a stored file (404 `thumbnail_not_ready` until the background render is done)."""
        data: bytes = self.call("file_thumbnail", path={"sha256": sha256})
        return data

    # ---- similarity -----------------------------------------------------------------------------------------------
    def search_similar(self, *, key: str | None = None, vector: Sequence[float] | None = None,
                       file: FileInput | None = None, filename: str | None = None, k: int | None = None,
                       feature_version: str | None = None, min_score: float | None = None,
                       filters: Mapping[str, Any] | None = None, min_generation: int | None = None) -> JSON:
        """The ``k`` nearest stored vectors to a stored ``key``, a ``vector``, or a ``file`` (analysed without
        being registered, then searched by its feature vector). Give exactly one of the three."""
        if sum(x is not None for x in (key, vector, file)) != 1:
            raise ValueError("give exactly one of key, vector or file")
        if file is not None:
            analysis = self.analyze(file, filename=filename, feature_version=feature_version,
                                    register_vector=False, classify=False)
            vector = analysis["features"]["values"]
            feature_version = analysis["features"]["version"]
        return self._json("similarity", body={
            "key": key, "vector": list(vector) if vector is not None else None, "k": k,
            "feature_version": feature_version, "min_score": min_score,
            "filters": dict(filters) if filters else None, "min_generation": min_generation})

    def search_batch(self, queries: Sequence[Mapping[str, Any]], *, k: int | None = None,
                     feature_version: str | None = None, min_score: float | None = None,
                     filters: Mapping[str, Any] | None = None, min_generation: int | None = None) -> JSON:
        """Several searches in one call: each query ``{"key": ...}`` or ``{"vector": [...]}``."""
        return self._json("similarity_batch", body={
            "queries": [dict(q) for q in queries], "k": k, "feature_version": feature_version,
            "min_score": min_score, "filters": dict(filters) if filters else None, "min_generation": min_generation})

    # ---- vectors --------------------------------------------------------------------------------------------------
    def register_vector(self, key: str, values: Sequence[float], *, meta: Mapping[str, Any] | None = None,
                        feature_version: str | None = None) -> JSON:
        return self._json("vectors_register", body={"key": key, "values": list(values),
                                                   "meta": dict(meta) if meta is not None else None,
                                                   "feature_version": feature_version})

    def register_vectors(self, vectors: Sequence[Mapping[str, Any]], *, feature_version: str | None = None) -> JSON:
        """A bulk (all or nothing): each item ``{"key", "values", "meta"?}``."""
        return self._json("vectors_register", body={"vectors": [dict(v) for v in vectors],
                                                   "feature_version": feature_version})

    def list_vectors(self, *, feature_version: str | None = None, meta: Mapping[str, Any] | None = None) -> JSON:
        """The first page: ``{count, next, previous, results}``; ``meta`` filters match meta fields exactly."""
        return self._json("vectors_list", query=self._list_query(feature_version, meta))

    def iter_vectors(self, *, feature_version: str | None = None,
                     meta: Mapping[str, Any] | None = None) -> Iterator[JSON]:
        """Every matching vector, page after page (following the server's ``next`` links)."""
        page = self.list_vectors(feature_version=feature_version, meta=meta)
        while True:
            yield from page["results"]
            if not page.get("next"):
                return
            page = self._send("GET", str(page["next"]), {}).json()

    @staticmethod
    def _list_query(feature_version: str | None, meta: Mapping[str, Any] | None) -> dict[str, Any]:
        query: dict[str, Any] = {"feature_version": feature_version}
        for field, value in (meta or {}).items():
            query[f"meta.{field}"] = value
        return query

    def get_vector(self, key: str, *, feature_version: str | None = None) -> JSON:
        return self._json("vector_get", path={"key": key}, query={"feature_version": feature_version})

    def delete_vector(self, key: str, *, reason: str, feature_version: str | None = None) -> JSON | None:
        """Ops: delete a vector (needs the admin token; audited with ``reason``)."""
        result = self.call("vector_delete", path={"key": key},
                           query={"feature_version": feature_version, "reason": reason})
        return result if isinstance(result, dict) else None

    # ---- model ----------------------------------------------------------------------------------------------------
    def model_status(self) -> JSON:
        return self._json("model_status")

    def predict(self, values: Sequence[float], *, feature_version: str) -> JSON:
        return self._json("model_predict", body={"values": list(values), "feature_version": feature_version})

    def model_reload(self, *, version: str | int | None = None, sha256: str | None = None,
                     expected_sha256: str | None = None, reason: str | None = None) -> JSON:
        """Ops: load a registered model version (scanned, validated) and make it active everywhere."""
        return self._json("model_reload", body={"version": None if version is None else str(version),
                                               "sha256": sha256, "expected_sha256": expected_sha256,
                                               "reason": reason})

    def model_rollback(self, *, reason: str | None = None) -> JSON:
        return self._json("model_rollback", body={"reason": reason})

    # ---- cache ----------------------------------------------------------------------------------------------------
    def cache_status(self) -> JSON:
        return self._json("cache_status")

    def cache_apply(self, *, reason: str, capacity: int | None = None, ttl_seconds: int | None = None,
                    policy: str | None = None) -> JSON:
        """Ops: change the feature cache settings (opens a rollback window)."""
        return self._json("cache_apply", body={"reason": reason, "capacity": capacity, "ttl_seconds": ttl_seconds,
                                              "policy": policy})

    def cache_rollback(self, *, reason: str) -> JSON:
        return self._json("cache_rollback", body={"reason": reason})

    # ---- index ----------------------------------------------------------------------------------------------------
    def index_status(self, *, feature_version: str | None = None) -> JSON:
        return self._json("index_status", query={"feature_version": feature_version})

    def index_recover(self, *, feature_version: str | None = None, reason: str | None = None) -> JSON:
        return self._json("index_recover", body={"feature_version": feature_version, "reason": reason})

    def index_rebuild(self, *, feature_version: str | None = None, reason: str | None = None) -> JSON:
        return self._json("index_rebuild", body={"feature_version": feature_version, "reason": reason})

    # ---- migration ------------------------------------------------------------------------------------------------
    def migration_preview(self, *, from_version: str, to_version: str, limit: int | None = None) -> JSON:
        return self._json("migration_preview", query={"from_version": from_version, "to_version": to_version, "limit": limit})

    def migration_start(self, *, from_version: str, to_version: str, dry_run: bool = False) -> JSON:
        """Ops: start a migration run (202; executed by a Celery task); follow it with ``migration_status``."""
        return self._json("migration_start", body={"from_version": from_version, "to_version": to_version,
                                                  "dry_run": dry_run})

    def migration_status(self, run_id: int) -> JSON:
        return self._json("migration_status", path={"run_id": run_id})


def _form_value(value: Any) -> str:
    """A form field of a multipart upload: booleans as true/false, the rest as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
