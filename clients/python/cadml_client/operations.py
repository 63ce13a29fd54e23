"""The API operations the client calls: method, path and the parameter names it may send.

This table is the client's contract with the server: ``CadmlClient`` sends nothing that is not declared here (it
raises ``ValueError`` first), and the project's test suite checks every entry against the server's OpenAPI
schema, so a renamed path or field fails a test instead of a user. A new call is one entry here and one small
method in ``client.py``.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

API = "/api/v1"


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # with {placeholders}
    query: frozenset[str] = frozenset()  # query parameter names ("meta.<field>": any meta.NAME)
    body: frozenset[str] = frozenset()  # JSON body fields, or the form fields of a multipart upload
    files: frozenset[str] = frozenset()  # multipart file fields (the body is then multipart/form-data)
    admin: bool = False  # needs X-Admin-Token as well as X-API-Key
    binary: bool = False  # the answer is bytes, not JSON

    @property
    def path_params(self) -> frozenset[str]:
        return frozenset(name for _, name, _, _ in string.Formatter().parse(self.path) if name)

    def accepts_query(self, name: str) -> bool:
        return name in self.query or ("meta.<field>" in self.query and name.startswith("meta."))


def _op(method: str, path: str, *, query: tuple[str, ...] = (), body: tuple[str, ...] = (),
        files: tuple[str, ...] = (), admin: bool = False, binary: bool = False) -> Operation:
    return Operation(method, API + path, frozenset(query), frozenset(body), frozenset(files), admin, binary)


_SEARCH = ("feature_version", "k", "min_score", "filters", "min_generation")

OPERATIONS: dict[str, Operation] = {
    "health": _op("GET", "/health/"),
    "analyze": _op("POST", "/analyze/", files=("file",),
                   body=("feature_version", "register_vector", "classify", "similar_k", "vector_key")),
    "analysis_get": _op("GET", "/analyze/{analysis_id}/"),
    "file_content": _op("GET", "/files/{sha256}/content/", binary=True),
    "file_thumbnail": _op("GET", "/files/{sha256}/thumbnail/", binary=True),
    "similarity": _op("POST", "/vectors/similarity/", body=(*_SEARCH, "key", "vector")),
    "similarity_batch": _op("POST", "/vectors/similarity/batch/", body=(*_SEARCH, "queries")),
    "vectors_register": _op("POST", "/vectors/", body=("feature_version", "key", "values", "meta", "vectors")),
    "vectors_list": _op("GET", "/vectors/", query=("feature_version", "meta.<field>")),
    "vector_get": _op("GET", "/vectors/{key}/", query=("feature_version",)),
    "vector_delete": _op("DELETE", "/vectors/{key}/", query=("feature_version", "reason"), admin=True),
    "model_status": _op("GET", "/model/"),
    "model_predict": _op("POST", "/model/predict/", body=("values", "feature_version")),
    "model_reload": _op("POST", "/model/reload/", body=("version", "sha256", "expected_sha256", "reason"),
                        admin=True),
    "model_rollback": _op("POST", "/model/rollback/", body=("reason",), admin=True),
    "cache_status": _op("GET", "/cache/"),
    "cache_apply": _op("POST", "/cache/apply/", body=("capacity", "ttl_seconds", "policy", "reason"), admin=True),
    "cache_rollback": _op("POST", "/cache/rollback/", body=("reason",), admin=True),
    "index_status": _op("GET", "/vectors/index/", query=("feature_version",)),
    "index_recover": _op("POST", "/vectors/index/recover/", body=("feature_version", "reason"), admin=True),
    "index_rebuild": _op("POST", "/vectors/index/rebuild/", body=("feature_version", "reason"), admin=True),
    "migration_preview": _op("GET", "/vectors/migrate/preview/", query=("from_version", "to_version", "limit")),
    "migration_start": _op("POST", "/vectors/migrate/", body=("from_version", "to_version", "dry_run"), admin=True),
    "migration_status": _op("GET", "/vectors/migrate/runs/{run_id}/"),
}
