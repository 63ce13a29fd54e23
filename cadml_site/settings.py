"""Settings of the CAD ML Platform: one module, driven by the environment.

Every variable read here is listed, with a one-line comment, in ``.env.example``. Malformed values raise
``ImproperlyConfigured`` at start-up (see ``cadml_site/env.py``). Secrets have no defaults.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from cadml_site.env import env_bool, env_choice, env_float, env_int, env_list, env_str, env_time_zone, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("CADML_VAR_DIR", str(BASE_DIR / "var"))).resolve()

# ---- core -------------------------------------------------------------------------------------------------
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be at least 32 characters long")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])
CADML_BUILD_VERSION = env_str("CADML_BUILD_VERSION", "0.1.0")
CADML_BUILD_COMMIT = env_str("CADML_BUILD_COMMIT", "")

INSTALLED_APPS = [
    "console.apps.CadmlAdminConfig",  # django.contrib.admin; its index is the ops dashboard
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    "cadml_site.api",
    "features",
    "vectors",
    "modelops",
    "cachectl",
    "analysis",  # the top layer of the domain apps: analyze across features, vectors, modelops and cachectl
    "console.apps.ConsoleConfig",  # the ops dashboard: reads vectors, modelops and cachectl
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "cadml_site.api.middleware.RequestIdMiddleware",
    "cadml_site.api.middleware.NulInUrlMiddleware",
    "cadml_site.api.middleware.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "cadml_site.urls"
WSGI_APPLICATION = "cadml_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# ---- database ---------------------------------------------------------------------------------------------
DATABASE_URL = env_url("DATABASE_URL", None, ("postgres", "postgresql", "sqlite"))
# Several gunicorn and Celery processes share a SQLite file: WAL lets readers run beside one writer, and IMMEDIATE
# transactions take the write lock up front instead of failing on a lock upgrade.
_SQLITE_OPTIONS = {
    "timeout": 30,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}
# A request that needs an unreachable database is answered 503 `database_unavailable` with this Retry-After; a
# Postgres connection attempt gives up after CADML_DATABASE_CONNECT_TIMEOUT_SECONDS instead of hanging.
CADML_DATABASE_RETRY_AFTER_SECONDS = env_int("CADML_DATABASE_RETRY_AFTER_SECONDS", 5, min_value=1, max_value=3600)
CADML_DATABASE_CONNECT_TIMEOUT_SECONDS = env_int("CADML_DATABASE_CONNECT_TIMEOUT_SECONDS", 5, min_value=2,
                                                 max_value=600)
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        # e.g. the test database handed to gunicorn and Celery children by the integration tests
        DATABASES["default"]["OPTIONS"] = {**_SQLITE_OPTIONS, **DATABASES["default"].get("OPTIONS", {})}
    else:
        DATABASES["default"]["OPTIONS"] = {"connect_timeout": CADML_DATABASE_CONNECT_TIMEOUT_SECONDS,
                                           **DATABASES["default"].get("OPTIONS", {})}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend with a health check that polls the socket before it spends a round trip on SELECT 1, and
        # prepared statements for the statements on every request's path (`prepared_cursor`; Django's client-side
        # binding prepares nothing, so the threshold only enables the statements that cursor asks to prepare)
        DATABASES["default"]["ENGINE"] = "cadml_site.postgres_backend"
        DATABASES["default"]["OPTIONS"].setdefault(
            "prepare_threshold", 5 if env_bool("CADML_DATABASE_PREPARED_STATEMENTS", True) else None)
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            "OPTIONS": dict(_SQLITE_OPTIONS),
            # A file, not memory, so that tests can start other processes (workers, gunicorn) on the same data.
            "TEST": {"NAME": str(VAR_DIR / "test_db.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ---- shared cache (throttling) and Redis ---------------------------------------------------------------------
REDIS_URL = env_url("REDIS_URL", None, ("redis", "rediss"))
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
elif DATABASE_URL and not DATABASE_URL.startswith("sqlite"):
    # Shared by every host that uses the database (createcachetable makes the table).
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "cadml_cache"}}
else:
    # Embedded default, one host: files, so that throttle counters do not take SQLite's write lock per request.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                          "LOCATION": str(VAR_DIR / "cache")}}

# ---- auth, i18n, static ---------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
# The operator's time zone: the admin and the dashboard show times in it (UTC on hover).
TIME_ZONE = env_time_zone("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Static files (admin, Swagger UI from drf-spectacular-sidecar) are served by WhiteNoise from the installed
# packages: no CDN, no internet access needed. Collected into STATIC_ROOT by `make run` for speed.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# ---- transport security (production) -----------------------------------------------------------------------------
# One switch for serving over HTTPS: HSTS, the HTTP->HTTPS redirect and Secure cookies, with `manage.py check
# --deploy` clean (docs/security.md). Off by default, for `make run` on plain http://127.0.0.1.
CADML_PRODUCTION_SECURITY = env_bool("CADML_PRODUCTION_SECURITY", False)
# Behind a TLS-terminating proxy: the header it sets to "https" (e.g. X-Forwarded-Proto). Only set it when the
# proxy always sets (or strips) that header itself, otherwise clients could claim HTTPS.
DJANGO_SECURE_PROXY_SSL_HEADER = env_str("DJANGO_SECURE_PROXY_SSL_HEADER", None) or None
if DJANGO_SECURE_PROXY_SSL_HEADER is not None:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}", DJANGO_SECURE_PROXY_SSL_HEADER):
        raise ImproperlyConfigured("DJANGO_SECURE_PROXY_SSL_HEADER must be a header name such as X-Forwarded-Proto, "
                                   f"got {DJANGO_SECURE_PROXY_SSL_HEADER!r}")
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + DJANGO_SECURE_PROXY_SSL_HEADER.upper().replace("-", "_"), "https")
if CADML_PRODUCTION_SECURITY:
    if DEBUG:
        raise ImproperlyConfigured("CADML_PRODUCTION_SECURITY=true needs DJANGO_DEBUG=false")
    if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure-"):
        raise ImproperlyConfigured("CADML_PRODUCTION_SECURITY=true needs a DJANGO_SECRET_KEY of at least 50 random "
                                   "characters (make run's var/secret_key is one)")
    SECURE_SSL_REDIRECT = True
    # Load balancer probes and Prometheus reach the service over plain HTTP inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^api/v1/health/", r"^metrics$"]
    SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31_536_000, min_value=3600, max_value=63_072_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SESSION_COOKIE_SAMESITE = "Lax"
    CSRF_COOKIE_SAMESITE = "Lax"
    SECURE_REFERRER_POLICY = "same-origin"
    SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# ---- API ------------------------------------------------------------------------------------------------------
_RATE = re.compile(r"^\d+/(s|sec|second|m|min|minute|h|hour|d|day)$")


def _rate(name: str, default: str) -> str:
    value = env_str(name, default)
    if not _RATE.match(value):
        raise ImproperlyConfigured(f"{name} must look like 100/min (number/s|m|h|d), got {value!r}")
    return value


CADML_THROTTLE_RATES = {
    "default": _rate("CADML_THROTTLE_DEFAULT", "1200/min"),
    "upload": _rate("CADML_THROTTLE_UPLOAD", "300/min"),
    "sensitive": _rate("CADML_THROTTLE_SENSITIVE", "120/min"),
}
CADML_API_MAX_PAGE_SIZE = env_int("CADML_API_MAX_PAGE_SIZE", 500, min_value=1, max_value=10_000)
# Deepest nesting of arrays/objects a JSON body may have (deeper: 400 validation_failed, never a RecursionError).
CADML_JSON_MAX_DEPTH = env_int("CADML_JSON_MAX_DEPTH", 64, min_value=4, max_value=500)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["cadml_site.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["cadml_site.api.permissions.HasApiKey",
                                   "cadml_site.api.permissions.ApiKeyScopePermits"],
    "DEFAULT_THROTTLE_CLASSES": ["cadml_site.api.throttling.ApiKeyScopedThrottle"],
    "DEFAULT_THROTTLE_RATES": CADML_THROTTLE_RATES,
    "DEFAULT_PAGINATION_CLASS": "cadml_site.api.pagination.OrderedLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "cadml_site.api.exceptions.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "cadml_site.api.schema.CadmlAutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON bodies only; the upload operations (analyze, model upload) name their multipart parsers themselves.
    "DEFAULT_PARSER_CLASSES": ["cadml_site.api.parsers.JSONTextParser"],
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "CAD ML Platform API",
    "DESCRIPTION": (
        "CAD files in, versioned feature vectors out; similar-part search; part classification; runtime controls. "
        "Every endpoint except health needs `X-API-Key`; a `read` key may only read (`x-api-key-scope` on each "
        "operation), writes need a `read_write` key; sensitive operations also need `X-Admin-Token`."
    ),
    "VERSION": CADML_BUILD_VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # one enum for the API key scope, wherever a serializer names it
    "ENUM_NAME_OVERRIDES": {"ApiKeyScopeEnum": "cadml_site.api.models.ApiKeyScope.choices"},
    # 3.1 (JSON Schema 2020-12) can say what 3.0 cannot, e.g. the names a filter object may use (propertyNames)
    "OAS_VERSION": "3.1.0",
}

# ---- Celery -----------------------------------------------------------------------------------------------------
CELERY_BROKER_URL = env_url("CELERY_BROKER_URL", None, ("redis", "rediss", "amqp", "amqps", "pyamqp"))
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
if CELERY_BROKER_URL and CELERY_BROKER_URL.startswith(("redis", "rediss")):
    _default_result_backend = CELERY_BROKER_URL
else:
    _default_result_backend = "rpc://" if CELERY_BROKER_URL else None
CELERY_RESULT_BACKEND = env_url(
    "CELERY_RESULT_BACKEND", _default_result_backend, ("redis", "rediss", "rpc", "db+postgresql", "db+sqlite")
)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A pool child runs the per-process initialisers (cadml_site.process_state: parse pool, indexes loaded from their
# snapshots) before it reports up. Celery's default of 4 s killed every replacement of a lost child under load, in a
# loop, so that the worker never ran a task again (found by tests/integration/test_fault_migration_worker_kill.py).
CELERY_WORKER_PROC_ALIVE_TIMEOUT = 120.0
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A request that enqueues work while the broker is down tries for about a second, then answers 503
# broker_unavailable with this Retry-After (cadml_site.celery.publish).
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 3, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_BROKER_CONNECTION_TIMEOUT = 2.0
# The Redis result backend reconnects 3 times (about 2 s), not 20 (about 20 s), before giving up.
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"retry_policy": {"max_retries": 3, "interval_start": 0,
                                                            "interval_step": 0.5, "interval_max": 1}}
CADML_BROKER_RETRY_AFTER_SECONDS = env_int("CADML_BROKER_RETRY_AFTER_SECONDS", 10, min_value=1, max_value=3600)
# The beat schedule: one dict; each app adds its periodic tasks here.
CELERY_BEAT_SCHEDULE: dict = {}

# ---- metrics ---------------------------------------------------------------------------------------------------
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR", None)
if PROMETHEUS_MULTIPROC_DIR and not os.path.isdir(PROMETHEUS_MULTIPROC_DIR):
    raise ImproperlyConfigured(f"PROMETHEUS_MULTIPROC_DIR={PROMETHEUS_MULTIPROC_DIR!r} is not an existing directory")
PROMETHEUS_EXPORT_MIGRATIONS = False
# Bearer token that /metrics requires (`Authorization: Bearer <token>`, Prometheus' `authorization` scrape
# setting). Unset: /metrics is open, and the system check cadml.W002 and a start-up log line say so.
CADML_METRICS_TOKEN = env_str("CADML_METRICS_TOKEN", None) or None
if CADML_METRICS_TOKEN is not None and (len(CADML_METRICS_TOKEN) < 24 or not CADML_METRICS_TOKEN.isprintable()
                                        or any(c.isspace() for c in CADML_METRICS_TOKEN)):
    raise ImproperlyConfigured("CADML_METRICS_TOKEN must be at least 24 printable characters without spaces "
                               "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')")

# ---- serving ---------------------------------------------------------------------------------------------------
GUNICORN_WORKERS = env_int("GUNICORN_WORKERS", 2, min_value=1, max_value=64)
GUNICORN_BIND = env_str("GUNICORN_BIND", "127.0.0.1:8000")
GUNICORN_TIMEOUT = env_int("GUNICORN_TIMEOUT", 120, min_value=5, max_value=3600)

# ---- logging ---------------------------------------------------------------------------------------------------
LOG_LEVEL = env_choice("CADML_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "cadml_site.request_context.RequestIdLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.request": {"level": "ERROR"},
        # Libraries that narrate routine work at INFO: keep their warnings and errors only.
        "ezdxf": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # keeps "login failure" and "locking out" lines, drops the per-login INFO
        "faiss.loader": {"level": "WARNING"},
        "celery.app.trace": {"level": "WARNING"},
        "kombu": {"level": "ERROR"},
    },
}

# ---- features ----------------------------------------------------------------------------------------------------
# The version a NEW installation serves (v5 unless set). It is recorded in the database the first time it is needed
# (vectors.services.served_version_record): a database that already holds vectors keeps the version they have, and
# only a completed migration (POST vectors/migrate/) changes the served version afterwards: no silent upgrade.
CADML_FEATURE_VERSION = env_choice("CADML_FEATURE_VERSION", "v5", ("v1", "v2", "v3", "v4", "v5"))
CADML_UPLOAD_MAX_BYTES = env_int("CADML_UPLOAD_MAX_BYTES", 100 * 1024 * 1024, min_value=1024)
CADML_PARSE_TIMEOUT_SECONDS = env_float("CADML_PARSE_TIMEOUT_SECONDS", 30.0, min_value=0.5, max_value=3600)
CADML_PARSE_MEMORY_LIMIT_BYTES = env_int("CADML_PARSE_MEMORY_LIMIT_BYTES", 2 * 1024**3, min_value=256 * 1024**2)
CADML_PARSE_WORKERS = env_int("CADML_PARSE_WORKERS", 2, min_value=1, max_value=64)
# One parse pool per host (docs/features.md, "One parse pool per host"): the Unix socket of the host's parse service,
# which gunicorn's master starts and every gunicorn and Celery worker uses. Empty (the default): each process keeps
# its own in-process pool (runserver, tests, the embedded default). A relative path is taken under CADML_VAR_DIR.
_parse_service_socket = env_str("CADML_PARSE_SERVICE_SOCKET", "").strip()
CADML_PARSE_SERVICE_SOCKET = str(VAR_DIR / _parse_service_socket) if _parse_service_socket else ""
if len(os.fsencode(CADML_PARSE_SERVICE_SOCKET)) > 107:
    raise ImproperlyConfigured(f"CADML_PARSE_SERVICE_SOCKET is longer than a Unix socket path may be (107 bytes): "
                               f"{CADML_PARSE_SERVICE_SOCKET!r}")
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Without a broker (the embedded default) a new file's thumbnail is rendered after the commit in this process:
# "background" hands it to one background thread per process, so the response does not wait for it (a full queue
# skips it, `manage.py render_thumbnails` renders it); "inline" renders it before the response is sent.
CADML_EMBEDDED_THUMBNAILS = env_choice("CADML_EMBEDDED_THUMBNAILS", "background", ("background", "inline"))
CADML_DXF_ENTITY_BUDGET = env_int("CADML_DXF_ENTITY_BUDGET", 500_000, min_value=1_000, max_value=100_000_000)
CADML_DXF_MAX_BLOCK_DEPTH = env_int("CADML_DXF_MAX_BLOCK_DEPTH", 64, min_value=2, max_value=10_000)
# Uploaded originals, content-addressed by sha256, in the storage alias "cad_originals": the filesystem under
# var/originals by default, an S3 bucket (django-storages) with CADML_ORIGINALS_STORAGE=s3.
CADML_ORIGINALS_STORAGE = env_choice("CADML_ORIGINALS_STORAGE", "filesystem", ("filesystem", "s3"))
CADML_ORIGINALS_DIR = Path(env_str("CADML_ORIGINALS_DIR", str(VAR_DIR / "originals"))).resolve()


def s3_storage(prefix: str, default_location: str) -> dict:
    """A django-storages S3 alias read from ``<prefix>_S3_*`` (bucket required; keys overwritten in place)."""
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str(f"{prefix}_S3_BUCKET"),
            "location": env_str(f"{prefix}_S3_PREFIX", default_location),
            "region_name": env_str(f"{prefix}_S3_REGION", None),
            "endpoint_url": env_url(f"{prefix}_S3_ENDPOINT_URL", None, ("https", "http")),
            # unset: boto3's own chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, shared files, instance role)
            "access_key": env_str(f"{prefix}_S3_ACCESS_KEY_ID", None),
            "secret_key": env_str(f"{prefix}_S3_SECRET_ACCESS_KEY", None),
            "default_acl": None,
            # originals: an existing key already holds the same bytes; snapshots: a republished manifest replaces
            "file_overwrite": True,
            "querystring_auth": True,
        },
    }


if CADML_ORIGINALS_STORAGE == "s3":
    STORAGES["cad_originals"] = s3_storage("CADML_ORIGINALS", "originals")
else:
    STORAGES["cad_originals"] = {
        "BACKEND": "features.originals.ContentAddressedFileSystemStorage",
        "OPTIONS": {"location": str(CADML_ORIGINALS_DIR), "file_permissions_mode": 0o640,
                    "directory_permissions_mode": 0o750},
    }
# One OpenAPI enum for the feature versions, whichever app's serializer offers them.
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {}).update({
    "FeatureVersionEnum": ["v1", "v2", "v3", "v4", "v5"],
    "MatchModeEnum": ["any", "duplicate", "shape"],  # similarity `match` (v5)
    "MatchKindEnum": ["exact", "duplicate", "same_shape_other_scale", "similar", "mirror_image"],  # a v5 result
    "MirrorModeEnum": ["same", "distinct"],  # similarity `mirror` (v5)
})
# ---- end features ------------------------------------------------------------------------------------------------

# ---- vectors -----------------------------------------------------------------------------------------------------
CADML_INDEX_DIR = Path(env_str("CADML_INDEX_DIR", str(VAR_DIR / "index"))).resolve()
# Where every host publishes and fetches index snapshots (storage alias "index_snapshots"): the filesystem under
# var/snapshots by default (a folder every host mounts), an S3 bucket (django-storages) with
# CADML_SNAPSHOTS_STORAGE=s3. CADML_INDEX_DIR stays each host's own folder, the one its workers map.
CADML_SNAPSHOTS_STORAGE = env_choice("CADML_SNAPSHOTS_STORAGE", "filesystem", ("filesystem", "s3"))
CADML_SNAPSHOTS_DIR = Path(env_str("CADML_SNAPSHOTS_DIR", str(VAR_DIR / "snapshots"))).resolve()
if CADML_SNAPSHOTS_STORAGE == "s3":
    STORAGES["index_snapshots"] = s3_storage("CADML_SNAPSHOTS", "index-snapshots")
else:
    STORAGES["index_snapshots"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(CADML_SNAPSHOTS_DIR), "allow_overwrite": True, "file_permissions_mode": 0o640,
                    "directory_permissions_mode": 0o750},
    }
CADML_SIMILARITY_MAX_K = env_int("CADML_SIMILARITY_MAX_K", 100, min_value=1, max_value=10_000)
CADML_HNSW_THRESHOLD = env_int("CADML_HNSW_THRESHOLD", 200_000, min_value=1)
CADML_HNSW_EF_SEARCH = env_int("CADML_HNSW_EF_SEARCH", 256, min_value=1, max_value=100_000)
CADML_RECOVERY_BASE_SECONDS = env_float("CADML_RECOVERY_BASE_SECONDS", 10.0, min_value=0.01)
CADML_RECOVERY_FACTOR = env_float("CADML_RECOVERY_FACTOR", 2.0, min_value=1.0)
CADML_RECOVERY_CAP_SECONDS = env_float("CADML_RECOVERY_CAP_SECONDS", 300.0, min_value=0.01)
CADML_FLAP_THRESHOLD = env_int("CADML_FLAP_THRESHOLD", 3, min_value=1)
CADML_FLAP_WINDOW_SECONDS = env_float("CADML_FLAP_WINDOW_SECONDS", 900.0, min_value=1)
CADML_FLAP_PAUSE_SECONDS = env_float("CADML_FLAP_PAUSE_SECONDS", 300.0, min_value=0)
CADML_HNSW_M = env_int("CADML_HNSW_M", 16, min_value=4, max_value=128)
CADML_HNSW_EF_CONSTRUCTION = env_int("CADML_HNSW_EF_CONSTRUCTION", 40, min_value=8, max_value=4096)
CADML_VECTOR_BULK_MAX = env_int("CADML_VECTOR_BULK_MAX", 10_000, min_value=1, max_value=100_000)
CADML_SIMILARITY_BATCH_MAX = env_int("CADML_SIMILARITY_BATCH_MAX", 1000, min_value=1, max_value=10_000)
CADML_INDEX_LEASE_SECONDS = env_int("CADML_INDEX_LEASE_SECONDS", 900, min_value=10, max_value=86_400)
CADML_DRILL_SECONDS = env_int("CADML_DRILL_SECONDS", 300, min_value=1, max_value=86_400)
CADML_RECOVERY_TICK_SECONDS = env_float("CADML_RECOVERY_TICK_SECONDS", 5.0, min_value=1.0, max_value=300.0)
CADML_MIGRATION_BATCH_SIZE = env_int("CADML_MIGRATION_BATCH_SIZE", 500, min_value=1, max_value=100_000)
# A migration run beats at its claim and at every staged batch; one whose heartbeat is older than this (its worker was
# killed, its message lost) is resumed by the beat task below and by every Celery worker that starts. Keep it well
# above the time one batch takes.
CADML_MIGRATION_ABANDONED_SECONDS = env_int("CADML_MIGRATION_ABANDONED_SECONDS", 300, min_value=1, max_value=86_400)
CADML_MIGRATION_RESUME_TICK_SECONDS = env_float("CADML_MIGRATION_RESUME_TICK_SECONDS", 60.0, min_value=0.5,
                                                max_value=3600.0)
CADML_VECTOR_DELETION_RETENTION_DAYS = env_int("CADML_VECTOR_DELETION_RETENTION_DAYS", 7, min_value=0, max_value=3650)
CELERY_BEAT_SCHEDULE["vectors-index-recovery"] = {
    "task": "vectors.tasks.index_recovery_tick_task",
    "schedule": CADML_RECOVERY_TICK_SECONDS,
}
CELERY_BEAT_SCHEDULE["vectors-migration-resume-abandoned"] = {
    "task": "vectors.tasks.vector_migration_resume_abandoned_task",
    "schedule": CADML_MIGRATION_RESUME_TICK_SECONDS,
}
CELERY_BEAT_SCHEDULE["vectors-deletion-log-prune"] = {
    "task": "vectors.tasks.vector_deletion_log_prune_task",
    "schedule": 3600.0,
}
# ---- end vectors -------------------------------------------------------------------------------------------------

# ---- modelops ----------------------------------------------------------------------------------------------------
CADML_MODEL_DIR = Path(env_str("CADML_MODEL_DIR", str(VAR_DIR / "models"))).resolve()
CADML_MODEL_MAX_BYTES = env_int("CADML_MODEL_MAX_BYTES", 200 * 1024 * 1024, min_value=1024)
CADML_MODEL_HASH_ALLOWLIST = [h.lower() for h in env_list("CADML_MODEL_HASH_ALLOWLIST", [])]
for _sha in CADML_MODEL_HASH_ALLOWLIST:
    if not re.fullmatch(r"[0-9a-f]{64}", _sha):
        raise ImproperlyConfigured(f"CADML_MODEL_HASH_ALLOWLIST entries must be sha256 hex digests, got {_sha!r}")
CADML_MODEL_OPCODE_MODE = env_choice("CADML_MODEL_OPCODE_MODE", "blacklist", ("blacklist", "audit", "whitelist"))
CADML_MODEL_MAX_DECOMPRESSED_BYTES = env_int("CADML_MODEL_MAX_DECOMPRESSED_BYTES", 512 * 1024 * 1024,
                                             min_value=1024)
CADML_MODEL_MAX_DECOMPRESSION_RATIO = env_int("CADML_MODEL_MAX_DECOMPRESSION_RATIO", 200, min_value=2,
                                              max_value=100_000)
CADML_MODEL_SCAN_MAX_OPCODES = env_int("CADML_MODEL_SCAN_MAX_OPCODES", 20_000_000, min_value=1000)
CADML_MODEL_SCAN_MAX_SECONDS = env_float("CADML_MODEL_SCAN_MAX_SECONDS", 30.0, min_value=0.1, max_value=3600)
CADML_MODEL_SYNC_INTERVAL_SECONDS = env_float("CADML_MODEL_SYNC_INTERVAL_SECONDS", 2.0, min_value=0.0,
                                              max_value=3600)
# ---- end modelops ------------------------------------------------------------------------------------------------

# ---- cachectl ----------------------------------------------------------------------------------------------------
CADML_CACHE_CAPACITY = env_int("CADML_CACHE_CAPACITY", 2000, min_value=1, max_value=10_000_000)
CADML_CACHE_TTL_SECONDS = env_int("CADML_CACHE_TTL_SECONDS", 3600, min_value=1, max_value=30 * 86400)
CADML_CACHE_ROLLBACK_WINDOW_SECONDS = env_int("CADML_CACHE_ROLLBACK_WINDOW_SECONDS", 300, min_value=1)
CADML_CACHE_REDIS_URL = env_url("CADML_CACHE_REDIS_URL", REDIS_URL, ("redis", "rediss"))
CADML_CACHE_POLICY = env_choice("CADML_CACHE_POLICY", "w-tinylfu", ("w-tinylfu", "lru"))
CADML_CACHE_MAX_CAPACITY = env_int("CADML_CACHE_MAX_CAPACITY", 1_000_000, min_value=1, max_value=10_000_000)
CADML_CACHE_MAX_TTL_SECONDS = env_int("CADML_CACHE_MAX_TTL_SECONDS", 30 * 86400, min_value=1, max_value=365 * 86400)
if CADML_CACHE_CAPACITY > CADML_CACHE_MAX_CAPACITY or CADML_CACHE_TTL_SECONDS > CADML_CACHE_MAX_TTL_SECONDS:
    raise ImproperlyConfigured("CADML_CACHE_CAPACITY/TTL_SECONDS exceed CADML_CACHE_MAX_CAPACITY/MAX_TTL_SECONDS")
CELERY_BEAT_SCHEDULE["cachectl-prune-key-activity"] = {"task": "cachectl.prune_key_activity", "schedule": 3600.0}
CADML_CACHE_STATS_RETENTION_DAYS = env_int("CADML_CACHE_STATS_RETENTION_DAYS", 7, min_value=1, max_value=366)
CELERY_BEAT_SCHEDULE["cachectl-sample-cache-stats"] = {"task": "cachectl.sample_cache_stats", "schedule": 60.0}
CELERY_BEAT_SCHEDULE["cachectl-prune-cache-stats-samples"] = {"task": "cachectl.prune_cache_stats_samples",
                                                              "schedule": 3600.0}
# ---- end cachectl ------------------------------------------------------------------------------------------------

# ---- observability (issue 7) -------------------------------------------------------------------------------------
# Per-process memory and garbage-collector metrics (cadml_site.observability.process_stats).
INSTALLED_APPS += ["cadml_site.observability"]
# ---- end observability -------------------------------------------------------------------------------------------

# ---- admin login throttling (issue 18, django-axes) ------------------------------------------------------------
# Failed /admin/login/ attempts are recorded in the database (axes' AccessAttempt); after
# CADML_ADMIN_LOGIN_FAILURE_LIMIT failures for one username, or from one client address, that username or address
# is locked (even with the right password) for CADML_ADMIN_LOGIN_LOCKOUT_MINUTES, answered 429 with a page saying
# so. Unlock: `manage.py axes_reset_username NAME`, `manage.py axes_reset_ip ADDRESS` (docs/security.md).
INSTALLED_APPS += ["axes"]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked username/address before any password check
    "django.contrib.auth.backends.ModelBackend",
]
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]  # last: turns a lockout into the lockout page
AXES_FAILURE_LIMIT = env_int("CADML_ADMIN_LOGIN_FAILURE_LIMIT", 5, min_value=1, max_value=1000)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("CADML_ADMIN_LOGIN_LOCKOUT_MINUTES", 15, min_value=1,
                                              max_value=7 * 24 * 60))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one reaching the limit locks
# A success does not clear the count: it would clear the address's count too, letting anyone with an account spray
# other usernames between two logins of their own. Counts expire with the lockout period.
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_TEMPLATE = "admin/login_locked.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_CLIENT_IP_CALLABLE = "cadml_site.api.login_throttle.client_address"
# Reverse proxies in front of the service that append to X-Forwarded-For; 0: the client is REMOTE_ADDR.
CADML_ADMIN_LOGIN_PROXY_COUNT = env_int("CADML_ADMIN_LOGIN_PROXY_COUNT", 0, min_value=0, max_value=10)
# ---- end admin login throttling ----------------------------------------------------------------------------------
