"""Seismo settings. Every value comes from the environment (see README, "Configuration")."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import unquote

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from config.embedded import celery_broker_url, embedded_env_file

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

DATA_DIR = Path(env.str("SEISMO_DATA_DIR", default=str(BASE_DIR / "var"))).resolve()

# When DATABASE_URL / REDIS_URL are unset, use the embedded services that `make run` or
# `make test` started (config/embedded.py writes their URLs to this file).
if not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
    _embedded = embedded_env_file(DATA_DIR)
    if _embedded.exists():
        environ.Env.read_env(_embedded, overwrite=False)
if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
    raise ImproperlyConfigured(
        "DATABASE_URL and REDIS_URL are not set and no embedded services are running: "
        "start them with `make run` or set both variables."
    )

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="") or ("insecure-dev-key-set-SECRET_KEY-in-production" if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "channels",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "accounts",
    "monitoring",
    "alerts",
    "dashboards",
    "loadtest",
    "overview",
    "explore",
    "audit",
    "checks",
]

MIDDLEWARE = [
    "lib.unavailable.DatabaseUnavailableMiddleware",  # outermost: sees every failed request
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "monitoring.middleware.RequestMetricsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "audit.context.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.middleware.LoginRequiredMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

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
                "accounts.context_processors.roles",
            ],
        },
    },
]

# Database -------------------------------------------------------------------------------
try:
    DATABASES = {"default": env.db("DATABASE_URL")}
except Exception as exc:  # django-environ raises several types for malformed URLs
    raise ImproperlyConfigured(f"DATABASE_URL is malformed: {exc}") from exc
# A unix-socket directory is spelled percent-encoded in the URL's host part.
DATABASES["default"]["HOST"] = unquote(DATABASES["default"].get("HOST") or "")
if DATABASES["default"].get("ENGINE") != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must be a postgres:// URL (Seismo needs PostgreSQL).")
# A connection pool: under ASGI every request would otherwise open a new connection.
if env.bool("DB_POOL", default=True):
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env.int("DB_POOL_SIZE", default=10),
        # A request waits this long for a connection before it answers 503: with PostgreSQL
        # down it must not hang (the pool would retry connecting for the whole wait).
        "timeout": env.float("DB_POOL_TIMEOUT", default=1.5),
        # A connection attempt that keeps failing gives up after this long (psycopg's default,
        # 5 minutes, backs off to 16 s and more between tries, so a PostgreSQL that restarted
        # was noticed only that late); the next request that needs a connection starts a new
        # attempt at once, so while requests come, a returning database is seen within ~1 s.
        "reconnect_timeout": env.float("DB_POOL_RECONNECT_SECONDS", default=2.0),
    }
# libpq's minimum: a server that does not answer (host down) fails the connect after 2 s.
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int("DB_CONNECT_TIMEOUT", default=2)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: cache, Channels layer, Celery broker ----------------------------------------------
REDIS_URL = env.str("REDIS_URL")
if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured("REDIS_URL must start with redis://, rediss:// or unix://")
REDIS_KEY_PREFIX = env.str("REDIS_KEY_PREFIX", default="seismo")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": REDIS_KEY_PREFIX,
        "OPTIONS": {"socket_timeout": 2, "socket_connect_timeout": 2},
    }
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {
            "hosts": [{"address": REDIS_URL, "max_connections": 1000, "socket_timeout": 30}],
            "prefix": f"{REDIS_KEY_PREFIX}:ch",
        },
    }
}

CELERY_BROKER_URL = celery_broker_url(REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-task leaves the task for the next one
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Every Celery key and exchange carries REDIS_KEY_PREFIX, so installations (and test runs)
# sharing one Redis stay apart. Not kombu's global_keyprefix: with it, restoring a dead
# worker's unacknowledged task reads the unprefixed key and drops the task.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "unacked_key": f"{REDIS_KEY_PREFIX}:celery:unacked",
    "unacked_index_key": f"{REDIS_KEY_PREFIX}:celery:unacked_index",
    "unacked_mutex_key": f"{REDIS_KEY_PREFIX}:celery:unacked_mutex",
    # Restoring holds this lock for milliseconds; a worker killed while holding it would block
    # every restore for kombu's default 300 s. Expire it soon after any sensible restore ends.
    "unacked_mutex_expire": 10,
    # An unacknowledged task (its worker died) is handed to another worker after this long.
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    "unacked_restore_throttle": 1,
}
CELERY_CONTROL_EXCHANGE = f"{REDIS_KEY_PREFIX}.control"
CELERY_EVENT_EXCHANGE = f"{REDIS_KEY_PREFIX}.events"
CELERY_TASK_DEFAULT_QUEUE = f"{REDIS_KEY_PREFIX}"
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# The beat heartbeat interval; /readyz calls beat stale after 3 missed beats.
BEAT_HEARTBEAT_SECONDS = env.float("BEAT_HEARTBEAT_SECONDS", default=2.0)
# How often beat hands a dead worker's unacknowledged tasks back to the queue.
RESTORE_UNACKED_SECONDS = env.float("RESTORE_UNACKED_SECONDS", default=30.0)

# Auth ------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["accounts.backends.ThrottledModelBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"
# The admin `ensure_admin` creates (or whose password it resets); no password = generate one.
DJANGO_SUPERUSER_USERNAME = env.str("DJANGO_SUPERUSER_USERNAME", default="") or "admin"
DJANGO_SUPERUSER_PASSWORD = env.str("DJANGO_SUPERUSER_PASSWORD", default="")
DJANGO_SUPERUSER_EMAIL = env.str("DJANGO_SUPERUSER_EMAIL", default="")

# I18N ------------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Static ----------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(DATA_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
# Production serves hashed, compressed files collected at build time (Dockerfile); a DEBUG
# run serves straight from the source folders so `make run` starts without a collect step.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# API -------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.RolePermission"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["lib.parsers.LimitedJSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["lib.filters.StrictFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "lib.pagination.StrictLimitOffsetPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "lib.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "lib.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # `?format=csv|json` belongs to the export endpoint, not to DRF's renderer switch.
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Seismo API",
    "DESCRIPTION": "Self-hosted real-time performance monitoring.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # JSON Schema proper: label names as propertyNames, null as a type (lib/openapi.py).
    "OAS_VERSION": "3.1.0",
    # Every operation documents the error statuses it can answer with (lib/openapi.py).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "lib.openapi.add_error_responses"],
    # Two apps have a `state` field; each choice set gets its own schema name.
    "ENUM_NAME_OVERRIDES": {
        "CheckStateEnum": "checks.choices.CheckState",
        "AlertStateEnum": "alerts.choices.AlertState",
    },
}

# Email -----------------------------------------------------------------------------------
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = 10
# Seconds a Slack/webhook receiver may take to answer before the attempt counts as failed.
NOTIFY_TIMEOUT_SECONDS = env.float("NOTIFY_TIMEOUT_SECONDS", default=10.0)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="seismo@localhost")

# Outbound requests (webhooks, checks, load tests) ------------------------------------------
OUTBOUND_ALLOWLIST = env.list("OUTBOUND_ALLOWLIST", default=[])
# The address this instance serves on; load tests may always target it.
SEISMO_HOST = env.str("HOST", default="127.0.0.1")
SEISMO_PORT = env.int("PORT", default=8000)


def _public_url(host: str, port: int) -> str:
    """Where users reach this instance: a wildcard listen address means "this machine"."""
    if host in ("0.0.0.0", "::", ""):
        host = socket.gethostname()
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


# The base of every link in notifications (Slack, email, webhooks); set it to the address
# users open, e.g. https://seismo.example.com behind a proxy.
SEISMO_PUBLIC_URL = env.str("SEISMO_PUBLIC_URL", default="").rstrip("/") or _public_url(SEISMO_HOST, SEISMO_PORT)
# Token for scraping /metrics (besides logged-in users); empty = users and tokens only.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# Availability checks and status pages ------------------------------------------------------
# Run the check scheduler inside each Celery worker (off for workers that must not probe).
CHECKS_SCHEDULER = env.bool("CHECKS_SCHEDULER", default=True)
# Anonymous requests per client address and minute a status page answers before 429.
STATUS_PAGE_RATE_LIMIT = env.int("STATUS_PAGE_RATE_LIMIT", default=300)
# How long "no such status page" is remembered (so unknown slugs cost the database once).
STATUS_PAGE_MISSING_TTL_SECONDS = 60

# Security --------------------------------------------------------------------------------
# Fernet keys for secrets at rest (lib/crypto.py), newest first; empty: a key derived from SECRET_KEY.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
# Proxies (addresses or CIDRs) whose X-Forwarded-For is believed; others' is ignored.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
# Login throttling (accounts/throttle.py): failures per username and address, per address.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
LOGIN_FAILURE_LIMIT_PER_ADDRESS = env.int("LOGIN_FAILURE_LIMIT_PER_ADDRESS", default=100)
LOGIN_FAILURE_WINDOW_SECONDS = env.int("LOGIN_FAILURE_WINDOW_SECONDS", default=900)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=900)
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # Health probes come over plain HTTP from the orchestrator.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]

# Audit trail (audit/): which models' changes are recorded, and for how long.
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=365)
AUDIT_MODELS = [
    "auth.User",
    "auth.Group",
    "accounts.ApiToken",
    "accounts.IngestKey",
    "monitoring.Metric",
    "monitoring.ScrapeTarget",
    "alerts.AlertRule",
    "alerts.AlertCondition",
    "alerts.NotificationChannel",
    "alerts.Silence",
    "alerts.MaintenanceWindow",
    "dashboards.Dashboard",
    "dashboards.Widget",
    "loadtest.Scenario",
    "checks.Check",
    "checks.StatusPage",
]

# Logging ---------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # Secrets (tokens, webhook URL paths) are masked in every line the server writes.
    "filters": {"mask_secrets": {"()": "lib.logmask.SecretMaskFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["mask_secrets"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        "celery": {"level": "INFO"},
        # HTTP clients log each request's full URL at INFO: a Slack webhook URL is its secret.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
    },
}

# Metrics pipeline --------------------------------------------------------------------------
DATA_UPLOAD_MAX_MEMORY_SIZE = 16 * 1024 * 1024  # ingest enforces its own, smaller limit first
# Load tests: how many may be queued or running at once; they run on their own Celery queue
# so collectors and alerts never wait behind a 24-hour run.
LOADTEST_MAX_CONCURRENT_RUNS = env.int("LOADTEST_MAX_CONCURRENT_RUNS", default=2)
# Every worker consumes both queues (no -Q needed); the cap above keeps threads free for the rest.
LOADTEST_QUEUE = f"{REDIS_KEY_PREFIX}.loadtest"
CELERY_TASK_QUEUES = [Queue(CELERY_TASK_DEFAULT_QUEUE), Queue(LOADTEST_QUEUE)]
CELERY_TASK_ROUTES = {"loadtest.tasks.run_load_test": {"queue": LOADTEST_QUEUE}}
# Largest JSON body any other API view accepts (DRF parsers bypass DATA_UPLOAD_MAX_MEMORY_SIZE).
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1024 * 1024)
INGEST_MAX_BYTES = env.int("INGEST_MAX_BYTES", default=8 * 1024 * 1024)
INGEST_MAX_SAMPLES = env.int("INGEST_MAX_SAMPLES", default=10_000)
# The doors other systems use (remote-write, OTLP, scrapes; README "Monitor your systems").
# Largest request body remote-write and OTLP accept (compressed, as sent); decompressed bodies
# are capped separately at 64 MiB.
INTAKE_MAX_BYTES = env.int("INTAKE_MAX_BYTES", default=10 * 1024 * 1024)
# Series one source (ingest key, scrape target, OTLP sender) may create; past it new ones are refused.
INTAKE_MAX_SERIES_PER_SOURCE = env.int("INTAKE_MAX_SERIES_PER_SOURCE", default=100_000)
# OTLP resource attributes (besides service.*) that become labels, e.g. host.name,deployment.environment.
OTLP_RESOURCE_LABELS = env.list("OTLP_RESOURCE_LABELS", default=[])
# Largest scrape body read from a target (decompressed).
SCRAPE_MAX_BYTES = env.int("SCRAPE_MAX_BYTES", default=32 * 1024 * 1024)
# Beat plans scrapes this many seconds at a time (each target keeps its own interval inside).
SCRAPE_WINDOW_SECONDS = env.int("SCRAPE_WINDOW_SECONDS", default=10)
SEISMO_RETENTION_RAW_DAYS = env.int("SEISMO_RETENTION_RAW_DAYS", default=30)
SEISMO_RETENTION_1M_DAYS = env.int("SEISMO_RETENTION_1M_DAYS", default=183)
SEISMO_RETENTION_1H_DAYS = env.int("SEISMO_RETENTION_1H_DAYS", default=730)
# Raw samples older than this are compacted into per-series hourly chunks (monitoring/store/compaction.py),
# checked every STORAGE_COMPACT_SECONDS. At least 10 minutes: "latest value" reads stay on raw rows.
STORAGE_HOT_WINDOW_SECONDS = env.int("STORAGE_HOT_WINDOW_SECONDS", default=7200)
STORAGE_COMPACT_SECONDS = env.float("STORAGE_COMPACT_SECONDS", default=300.0)
if STORAGE_HOT_WINDOW_SECONDS < 600:
    raise ImproperlyConfigured(f"STORAGE_HOT_WINDOW_SECONDS={STORAGE_HOT_WINDOW_SECONDS} must be at least 600.")
# permessage-deflate on the live stream when the client offers it (config/daphne_server.py).
STREAM_COMPRESSION = env.bool("STREAM_COMPRESSION", default=True)
# Collection cadences (how often each collector runs), in seconds.
COLLECT_FAST_SECONDS = env.float("COLLECT_FAST_SECONDS", default=1.0)
COLLECT_MEDIUM_SECONDS = env.float("COLLECT_MEDIUM_SECONDS", default=5.0)
COLLECT_SLOW_SECONDS = env.float("COLLECT_SLOW_SECONDS", default=30.0)
# How often each web process flushes its in-memory request metrics.
REQUEST_METRICS_FLUSH_SECONDS = env.float("REQUEST_METRICS_FLUSH_SECONDS", default=1.0)
