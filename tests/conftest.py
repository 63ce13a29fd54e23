"""Shared fixtures: personas and the shared CAD samples.

Personas:
- ``anon_client``: no credentials.
- ``key_client``: a valid ``X-API-Key`` (API client "acme-cad").
- ``ops_client``: ``X-API-Key`` + ``X-Admin-Token`` of the active staff user ``ops-alice``, who holds the operator
  and security admin roles (``make_staff_user(..., roles=("viewer",))`` makes a view-only staff user).
- ``wrong_key_client``: an ``X-API-Key`` that does not exist.
"""

from __future__ import annotations

import contextlib

import os
from pathlib import Path

import pytest
from rest_framework.test import APIClient

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def cad_samples_dir() -> Path:
    path = Path(os.environ.get("CADML_SAMPLES_DIR", PROJECT_ROOT.parent / "shared" / "cad-samples")).resolve()
    if not path.is_dir():
        raise RuntimeError(f"Shared CAD samples not found at {path}; set CADML_SAMPLES_DIR")
    return path


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    """Each test starts with this process's credential cache, throttle counters, reference buffer and served
    version empty (rows of earlier tests are rolled back), and outside a request (`after_response`)."""
    from cadml_site import after_response
    from cadml_site.api.authentication import credential_cache
    from cadml_site.api.throttling import local_counters
    from vectors.selectors import reference_buffer
    from vectors.served_version_cache import served_version_cache

    credential_cache.forget()
    local_counters.clear()
    reference_buffer.clear()
    served_version_cache.forget()
    after_response.forget_deferred()
    yield
    credential_cache.forget()
    local_counters.clear()
    reference_buffer.clear()
    served_version_cache.forget()
    after_response.forget_deferred()


@pytest.fixture
def make_api_key(db):
    from cadml_site.api.services import api_key_create

    counter = {"n": 0}

    def make(name: str | None = None, *, scope: str = "read_write"):
        counter["n"] += 1
        return api_key_create(name=name or f"client-{counter['n']}", scope=scope)

    return make


OPS_ROLES = ("operator", "security admin")


def grant_roles(user, roles) -> None:
    """Puts ``user`` in the named role groups (cadml_site/api/roles.py), creating them if a flush removed them."""
    from django.contrib.auth.models import Group

    from cadml_site.api.roles import sync_role_groups

    if roles and Group.objects.filter(name__in=roles).count() != len(set(roles)):
        sync_role_groups()
    user.groups.set(Group.objects.filter(name__in=roles))


@pytest.fixture
def make_staff_user(db, django_user_model):
    """A staff user; by default an ops persona holding the operator and security admin roles."""

    def make(username: str = "ops-alice", *, is_staff: bool = True, is_active: bool = True, roles=OPS_ROLES):
        user = django_user_model.objects.create_user(username=username, password=None, is_staff=is_staff,
                                                     is_active=is_active)
        grant_roles(user, roles)
        return user

    return make


ALL_VIEW_PERMISSIONS = "view:*"  # every view_* permission of every model: the "view-only staff" of issue 18


@pytest.fixture
def admin_client_logged_in(client, django_user_model):
    """The Django test client logged in to the admin as a new superuser, ``root-admin``."""
    user = django_user_model.objects.create_superuser(username="root-admin", password="pw-for-tests-only")
    client.force_login(user)
    return client


@pytest.fixture
def staff_browser(db, django_user_model):
    """A logged-in admin console client for a new staff user holding exactly ``permissions`` ("app.codename", or
    ``ALL_VIEW_PERMISSIONS``) plus the groups of ``roles``."""
    from django.contrib.auth.models import Permission
    from django.test import Client

    def make(username: str, *, permissions=(), roles=()):
        user = django_user_model.objects.create_user(username=username, password=None, is_staff=True)
        grant_roles(user, roles)
        granted = []
        for name in permissions:
            if name == ALL_VIEW_PERMISSIONS:
                granted.extend(Permission.objects.filter(codename__startswith="view_"))
            else:
                app_label, codename = name.split(".", 1)
                granted.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        user.user_permissions.set(granted)
        client = Client()
        client.force_login(user)
        client.user = user
        return client

    return make


def admin_action_names(response) -> set[str]:
    """The actions a changelist page offers (the options of its action select)."""
    import re

    html = response.content.decode()
    select = re.search(r'<select name="action"[^>]*>(.*?)</select>', html, re.S)
    return set(re.findall(r'<option value="([a-z_]+)"', select.group(1))) if select else set()


@pytest.fixture
def make_admin_token(db):
    from cadml_site.api.services import admin_token_create

    def make(user):
        return admin_token_create(username=user.username)

    return make


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def api_key_secret(make_api_key) -> str:
    return make_api_key("acme-cad")[1]


@pytest.fixture
def key_client(api_key_secret) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=api_key_secret)
    return client


@pytest.fixture
def ops_user(make_staff_user):
    return make_staff_user("ops-alice")


@pytest.fixture
def admin_token_secret(ops_user, make_admin_token) -> str:
    return make_admin_token(ops_user)[1]


@pytest.fixture
def ops_client(api_key_secret, admin_token_secret) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=api_key_secret, HTTP_X_ADMIN_TOKEN=admin_token_secret)
    return client


@pytest.fixture
def wrong_key_client(db) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY="deadbeef.this-key-does-not-exist")
    return client


@pytest.fixture(autouse=True)
def celery_in_process(request):
    """Tasks run in process in ordinary tests, even when CELERY_BROKER_URL names a real broker (as in CI).

    Tests marked ``integration`` talk to the real broker and a real worker instead.
    """
    from cadml_site.celery import app

    app.set_current()  # shared tasks resolve to the current app: a probe app made by another test must not win
    if request.node.get_closest_marker("integration"):
        yield
        return
    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = previous


@pytest.fixture
def django_subprocess_env(transactional_db) -> dict[str, str]:
    """Environment for a child process (worker, gunicorn, manage.py) that must use this test's database.

    Needs committed data, hence ``transactional_db``. Works for the SQLite file test database and for Postgres.
    """
    from django.db import connection

    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        url = f"sqlite:///{settings_dict['NAME']}"
    else:
        user = settings_dict.get("USER") or "postgres"
        password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
        host = settings_dict.get("HOST") or "127.0.0.1"
        port = settings_dict.get("PORT") or 5432
        url = f"postgres://{user}{password}@{host}:{port}/{settings_dict['NAME']}"
    from django.conf import settings

    originals = settings.STORAGES["cad_originals"].get("OPTIONS", {}).get("location")
    extra = {"CADML_ORIGINALS_DIR": str(originals)} if originals else {}
    snapshots = settings.STORAGES["index_snapshots"].get("OPTIONS", {}).get("location")
    extra.update({"CADML_SNAPSHOTS_DIR": str(snapshots)} if snapshots else {})
    return {**os.environ, "DATABASE_URL": url, "OMP_NUM_THREADS": "1", **extra}


@pytest.fixture
def request_caches_held(monkeypatch):
    """For tests that pin the SQL statements of a request: the credential cache, the throttle's sync interval, the
    served version cache and the convergence interval of every per-process runtime (the cache settings check is a
    statement once a second) stretched to 30 s, and the throttle's clock stopped (a new fixed window reads the previous
    window's shared count once: a statement when the shared cache is the database's, Postgres in CI), so that a loaded
    machine stays inside them between the warming request and the measured one."""
    import time

    from cadml_site import process_state
    from cadml_site.api import authentication, throttling
    from vectors.served_version_cache import served_version_cache

    monkeypatch.setattr(authentication.credential_cache, "ttl_seconds", 30.0)
    monkeypatch.setattr(throttling, "SYNC_SECONDS", 30.0)
    monkeypatch.setattr(served_version_cache, "ttl_seconds", 30.0)
    for local in list(process_state._process_locals.values()):
        monkeypatch.setattr(local, "converge_every", 30.0)
    stopped = time.time()
    monkeypatch.setattr(throttling.ApiKeyScopedThrottle, "timer", staticmethod(lambda: stopped))


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def mocked_s3_storage(settings, monkeypatch, *, alias: str, bucket: str, location: str):
    """The storage ``alias`` on an S3 bucket of moto's in-process fake (no credentials of the environment used);
    yields the boto3 client."""
    import boto3
    from django.test.utils import override_settings
    from moto import mock_aws

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-1", aws_access_key_id="test", aws_secret_access_key="test")
        client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        storages = {**settings.STORAGES, alias: {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
            "bucket_name": bucket, "location": location, "region_name": "eu-west-1", "access_key": "test",
            "secret_key": "test", "default_acl": None, "file_overwrite": True, "querystring_auth": True}}}
        with override_settings(STORAGES=storages):
            yield client


def storage_check_ids(settings, alias: str, backend: str, location) -> list[str]:
    """The ids of the system checks' problems once the storage ``alias`` is ``backend`` at ``location``."""
    from cadml_site.checks import cadml_configuration

    settings.STORAGES = {**settings.STORAGES, alias: {"BACKEND": backend, "OPTIONS": {"location": str(location)}}}
    return [problem.id for problem in cadml_configuration(None)]


# ---- originals (features) ---------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def originals_dir(tmp_path_factory) -> Path:
    """Each test keeps uploaded originals in a folder of its own (not the worktree's var/originals)."""
    folder = tmp_path_factory.mktemp("originals")
    from django.conf import settings as django_settings
    from django.test.utils import override_settings

    storages = {**django_settings.STORAGES, "cad_originals": {
        "BACKEND": "features.originals.ContentAddressedFileSystemStorage", "OPTIONS": {"location": str(folder)}}}
    with override_settings(STORAGES=storages):
        yield folder


@pytest.fixture(autouse=True)
def snapshots_dir(tmp_path_factory, originals_dir) -> Path:
    """Each test publishes index snapshots to a folder of its own (not the worktree's var/snapshots)."""
    folder = tmp_path_factory.mktemp("snapshots")
    from django.conf import settings as django_settings
    from django.test.utils import override_settings

    storages = {**django_settings.STORAGES, "index_snapshots": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(folder), "allow_overwrite": True}}}
    with override_settings(STORAGES=storages):
        yield folder
# ---- end originals ----------------------------------------------------------------------------------------------

# ---- modelops ---------------------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _modelops_holder_isolated():
    """The active-model holder is process-global: a model activated by one test must not answer in the next."""
    yield
    from modelops.registry import holder

    holder.reset()
# ---- end modelops -----------------------------------------------------------------------------------------------
