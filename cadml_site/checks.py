"""Start-up checks of the configuration (``manage.py check``, run by ``migrate`` and ``runserver`` too)."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def cadml_configuration(app_configs, **kwargs):
    problems = []
    multiproc = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if multiproc and not os.access(multiproc, os.W_OK):
        problems.append(Error(f"PROMETHEUS_MULTIPROC_DIR={multiproc!r} is not writable", id="cadml.E001"))
    if settings.DEBUG and any(host not in ("127.0.0.1", "localhost", "::1") for host in settings.ALLOWED_HOSTS):
        problems.append(Warning("DJANGO_DEBUG is on while DJANGO_ALLOWED_HOSTS names non-local hosts",
                                id="cadml.W001"))
    if settings.CELERY_BROKER_URL and not settings.CELERY_RESULT_BACKEND:
        problems.append(Error("CELERY_BROKER_URL is set but no result backend could be chosen; set "
                              "CELERY_RESULT_BACKEND", id="cadml.E002"))
    if not settings.CADML_METRICS_TOKEN:
        problems.append(Warning(METRICS_OPEN_MESSAGE, hint="Set CADML_METRICS_TOKEN and give Prometheus the same "
                                "token (authorization: {type: Bearer, credentials_file: ...}); see docs/security.md.",
                                id="cadml.W002"))
    problems.extend(_originals_storage_problems())
    problems.extend(_snapshots_storage_problems())
    return problems


METRICS_OPEN_MESSAGE = ("CADML_METRICS_TOKEN is unset: /metrics is open to anyone who can reach the service "
                        "(per-view request counts, admin login outcomes, model reloads)")


def _creatable_folder(folder: str) -> bool:
    """Whether ``folder`` is a writable folder, or can be created (its nearest existing parent is writable)."""
    existing = folder
    while existing and not os.path.exists(existing):  # the folder is created on the first write
        existing = os.path.dirname(existing.rstrip("/")) if existing != "/" else ""
    return bool(existing) and os.path.isdir(existing) and os.access(existing, os.W_OK | os.X_OK)


def _filesystem_storage_problems(alias: str, backend_path: str, variable: str, consequence: str,
                                 check_id: str) -> list:
    """A storage ``alias`` on the filesystem (``backend_path``) must be a writable folder, or one that can be made."""
    backend = settings.STORAGES.get(alias, {})
    if backend.get("BACKEND") != backend_path:
        return []
    folder = str(backend.get("OPTIONS", {}).get("location", ""))
    if not _creatable_folder(folder):
        return [Error(f"{variable}={folder!r} is not a writable folder (nor can it be created): {consequence}",
                      id=check_id)]
    return []


def _originals_storage_problems() -> list:
    """The filesystem originals storage must be writable (an upload is refused with 503 otherwise)."""
    return _filesystem_storage_problems("cad_originals", "features.originals.ContentAddressedFileSystemStorage",
                                        "CADML_ORIGINALS_DIR", "uploads would be refused", "cadml.E010")


def _snapshots_storage_problems() -> list:
    """The filesystem snapshot storage must be writable (every rebuild publishes there, and fails otherwise)."""
    return _filesystem_storage_problems("index_snapshots", "django.core.files.storage.FileSystemStorage",
                                        "CADML_SNAPSHOTS_DIR", "index rebuilds and recoveries would fail",
                                        "cadml.E011")
