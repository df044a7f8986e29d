"""Django settings for OptiFlow: every value that varies between machines comes from the
environment, read here and nowhere else (see the README's table of variables)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import structlog
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_seconds(name: str, default: str) -> list[float]:
    """A comma-separated list of positive seconds."""
    try:
        values = [float(item) for item in env_list(name, default)]
    except ValueError:
        values = []
    if not values or not all(0 < value < math.inf for value in values):
        raise ImproperlyConfigured(f"{name} must be positive seconds, comma-separated.")
    return values


def database_from_url(url: str) -> dict:
    """Translate ``postgresql://user:pass@host:port/name?host=/socket/dir`` into Django's shape."""
    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql"}:
        raise ImproperlyConfigured("DATABASE_URL must be a postgresql:// URL (PostgreSQL only).")
    query = parse_qs(parsed.query)
    return {
        "ENGINE": "optiflow.db.backend",
        "NAME": unquote(parsed.path.lstrip("/")) or "postgres",
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": query.get("host", [parsed.hostname or ""])[0],
        "PORT": str(parsed.port or ""),
        # Persistent connections: one TCP/socket handshake per worker thread, not per request.
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
        # A pooler may route a server-side cursor's FETCHes to another session.
        "DISABLE_SERVER_SIDE_CURSORS": True,
        "OPTIONS": {"connect_timeout": 5},
    }


DEBUG = env_bool("DJANGO_DEBUG", default=False)
#: Generated once per checkout by the Makefile. Read when the environment gives no key, so
#: `manage.py` commands work in a checkout after `make run` without exporting anything; a
#: deployment (no such file) still has to provide `DJANGO_SECRET_KEY`.
CHECKOUT_SECRET_KEY_FILE = BASE_DIR / ".local" / "secret_key"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY and CHECKOUT_SECRET_KEY_FILE.is_file():
    SECRET_KEY = CHECKOUT_SECRET_KEY_FILE.read_text().strip()
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off.")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"

OPTIFLOW_BASE_DOMAIN = os.environ.get("OPTIFLOW_BASE_DOMAIN", "localhost").lower()
# Further names of the bare host (besides the base domain and localhost): no tenant may have them.
OPTIFLOW_RESERVED_HOSTS = [host.lower() for host in env_list("OPTIFLOW_RESERVED_HOSTS")]
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", f"127.0.0.1,localhost,.{OPTIFLOW_BASE_DOMAIN}")

# Prometheus metrics (django-prometheus) at the bare host's /metrics: off unless asked for.
OPTIFLOW_METRICS = env_bool("OPTIFLOW_METRICS")

SHARED_APPS = [
    # The admin theme: its templates win over django_tenants' and the admin's own.
    "unfold",
    "unfold.contrib.filters",
    "django_tenants",  # before Django's apps: its `migrate` command replaces Django's
    "tenants",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # The task queue's tables live in the public schema only; a job names its tenant's schema.
    "procrastinate.contrib.django",
    "optiflow",
]
TENANT_APPS = [
    "tenants",
    "optiflow",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "contacts",
    "inventory",
    "billing",
    "company",
    "webhooks",
    "idempotency",
]
if OPTIFLOW_METRICS:
    SHARED_APPS.append("django_prometheus")
    # The server runs several worker processes: each writes its metrics to files here and
    # /metrics adds them all up (prometheus_client's multiprocess mode). uwsgi.ini empties the
    # folder at start. Set before prometheus_client is imported, which reads it then.
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(BASE_DIR / ".local" / "metrics"))
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
# SchemaRouter narrows django-tenants' per-app routing to per-model; django-tenants insists on
# seeing its own router listed, and it is consulted only when ours has no opinion.
DATABASE_ROUTERS = ["tenants.routers.SchemaRouter", "django_tenants.routers.TenantSyncRouter"]
AUTH_USER_MODEL = "tenants.User"

MIDDLEWARE = [
    "optiflow.middleware.RequestIdMiddleware",
    "optiflow.middleware.AccessLogMiddleware",
    "optiflow.middleware.RetryAfterMiddleware",
    "optiflow.middleware.RequestLimitsMiddleware",
    "optiflow.middleware.ReadinessMiddleware",
    "optiflow.db.timeouts.DatabaseTimeoutMiddleware",
    "tenants.middleware.TenantMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "optiflow.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "optiflow.middleware.AuthenticationMiddleware",
    "optiflow.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

if OPTIFLOW_METRICS:
    MIDDLEWARE = [
        "django_prometheus.middleware.PrometheusBeforeMiddleware",
        *MIDDLEWARE,
        "django_prometheus.middleware.PrometheusAfterMiddleware",
    ]

ROOT_URLCONF = "optiflow.urls_tenant"
PUBLIC_SCHEMA_URLCONF = "optiflow.urls_public"
WSGI_APPLICATION = "optiflow.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

if not os.environ.get("DATABASE_URL"):
    from optiflow.embedded_db import embedded_database_url

    embedded_database_url()
DATABASES = {"default": database_from_url(os.environ["DATABASE_URL"])}

# --- Database at scale (README: deployment) ---------------------------------------------------
# optiflow.db.backend sends every statement's tenant schema and timeouts with it (SET LOCAL),
# so PgBouncer in session or transaction mode is safe. In-process, psycopg's pool (Django's
# OPTIONS["pool"]) shares connections among a process's threads and bounds their lifetime;
# OPTIFLOW_DB_POOL=0 falls back to one persistent connection per thread.
OPTIFLOW_DB_POOL = env_bool("OPTIFLOW_DB_POOL", default=True)
OPTIFLOW_DB_POOL_MAX_SIZE = int(os.environ.get("OPTIFLOW_DB_POOL_MAX_SIZE", "8"))
# A request waits at most this long for a row lock, and runs no statement longer (0: no limit).
OPTIFLOW_DB_LOCK_TIMEOUT_MS = int(os.environ.get("OPTIFLOW_DB_LOCK_TIMEOUT_MS", "5000"))
OPTIFLOW_DB_STATEMENT_TIMEOUT_MS = int(os.environ.get("OPTIFLOW_DB_STATEMENT_TIMEOUT_MS", "30000"))
# A server connection caches the catalog of each schema it touches (~0.22 MB per tenant): one
# that has served this many tenants is closed when released, not reused (0: never).
OPTIFLOW_DB_SCHEMAS_PER_CONNECTION = int(
    os.environ.get("OPTIFLOW_DB_SCHEMAS_PER_CONNECTION", "100")
)
# migrate_schemas: the template first, then only the schemas missing a migration, this many
# at once (tenants.migration_executor).
GET_EXECUTOR_FUNCTION = "tenants.migration_executor.get_executor"
TENANT_MULTIPROCESSING_MAX_PROCESSES = int(os.environ.get("OPTIFLOW_MIGRATION_PROCESSES", "0")) or (
    os.cpu_count() or 2
)
if OPTIFLOW_DB_POOL:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # Django's pool requires it
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": 1,
        "max_size": OPTIFLOW_DB_POOL_MAX_SIZE,
        "max_lifetime": 1800,  # seconds; a backstop to the per-connection schema count
        "max_idle": 300,
        # Waiting longer than this for a connection (the database is down, or slow to accept
        # one) answers 503: a request never hangs on an unreachable database.
        "timeout": 3,
    }

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # A stalled Redis must cost a cache call a quarter of a second, not minutes.
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the apps' static folders so `make run` needs no collectstatic step.
WHITENOISE_USE_FINDERS = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# SPEC §5 limits: a larger body is 413 before it is read; Django's own reads agree.
OPTIFLOW_MAX_BODY_BYTES = int(os.environ.get("OPTIFLOW_MAX_BODY_BYTES", 5 * 1024 * 1024))
DATA_UPLOAD_MAX_MEMORY_SIZE = OPTIFLOW_MAX_BODY_BYTES
# What a 503 tells clients to wait before retrying: long enough for a database failover.
OPTIFLOW_RETRY_AFTER_SECONDS = 5

OPTIFLOW_RATE_LIMIT_USER = os.environ.get("OPTIFLOW_RATE_LIMIT_USER", "60/min")
OPTIFLOW_RATE_LIMIT_ANON = os.environ.get("OPTIFLOW_RATE_LIMIT_ANON", "10/min")

# Webhooks (SPEC §8.10). The retry schedule is the seconds between attempts; after its last
# wait the delivery has failed. The default is about 1 min, 5 min, 30 min, 2 h, 5 h, then every
# 10 h, which ends within 3 days of the first attempt.
OPTIFLOW_WEBHOOKS_ALLOW_PRIVATE = env_bool("OPTIFLOW_WEBHOOKS_ALLOW_PRIVATE")
OPTIFLOW_WEBHOOKS_ALLOW_HTTP = env_bool("OPTIFLOW_WEBHOOKS_ALLOW_HTTP")
OPTIFLOW_WEBHOOK_RETRY_SCHEDULE = env_seconds(
    "OPTIFLOW_WEBHOOK_RETRY_SCHEDULE", "60,300,1800,7200,18000" + ",36000" * 6
)

# Task-queue workers (procrastinate): each beats every OPTIFLOW_WORKER_HEARTBEAT_SECONDS; one
# silent for three beats counts as dead, and its running jobs are handed to the living.
(OPTIFLOW_WORKER_HEARTBEAT_SECONDS,) = env_seconds("OPTIFLOW_WORKER_HEARTBEAT_SECONDS", "10")
OPTIFLOW_WORKER_STALLED_AFTER_SECONDS = 3 * OPTIFLOW_WORKER_HEARTBEAT_SECONDS
PROCRASTINATE_WORKER_DEFAULTS = {
    # Finished jobs leave the table (a failed one stays, for inspection); the delivery log
    # lives in the tenant's own tables.
    "delete_jobs": "successful",
    # New jobs wake a worker through LISTEN/NOTIFY; this poll catches what that misses (a job
    # deferred while the worker was fetching, a retry coming due) within a second.
    "fetch_job_polling_interval": 1.0,
    "update_heartbeat_interval": OPTIFLOW_WORKER_HEARTBEAT_SECONDS,
    "stalled_worker_timeout": OPTIFLOW_WORKER_STALLED_AFTER_SECONDS,
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["optiflow.api.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["optiflow.api.permissions.HasPermission"],
    "DEFAULT_THROTTLE_CLASSES": ["optiflow.api.throttling.RateLimitThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["optiflow.api.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["optiflow.api.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "optiflow.api.pagination.ListPagination",
    "EXCEPTION_HANDLER": "optiflow.api.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "optiflow.api.schema.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "COERCE_DECIMAL_TO_STRING": True,
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%S.%fZ",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "OptiFlow API",
    "DESCRIPTION": (BASE_DIR / "optiflow" / "api" / "schema_description.md").read_text(),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    # No validator badge: it would send the schema's URL to validator.swagger.io.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ContactStatusEnum": "contacts.models.Contact.Status",
        "AddressTypeEnum": "contacts.models.Address.Type",
        "StockLevelStatusEnum": "inventory.models.StockLevel.Status",
        "InvoiceStatusEnum": "billing.models.Invoice.Status",
        "WebhookDeliveryStatusEnum": "webhooks.models.WebhookDelivery.Status",
        "PermissionEnum": "tenants.access.PERMISSIONS",
        "AbilityEnum": "tenants.serializers.ABILITY_CHOICES",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "optiflow.api.schema.postprocess_tenant_servers",
    ],
}

CORS_ALLOWED_ORIGINS = env_list("OPTIFLOW_CORS_ORIGINS")
# A browser app reads the ETag it sends back as If-Match, and sees replayed answers.
CORS_EXPOSE_HEADERS = [
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "Retry-After",
    "X-Request-Id",
    "ETag",
    "Idempotent-Replayed",
]
CORS_ALLOW_HEADERS = [
    "accept",
    "authorization",
    "content-type",
    "x-request-id",
    "x-workspace-id",
    "idempotency-key",
    "if-match",
    "if-none-match",
]

# Production safety: everything below is on unless DEBUG, and tunable for proxies.
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("DJANGO_SECURE_PROXY_SSL_HEADER") else None
)
# `make run` serves plain HTTP on loopback and turns this off so the admin can log in there.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_SECURE_HSTS_SECONDS", "0" if DEBUG else "3600"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Logs are JSON lines on stderr, for a log pipeline to index: one per request from
# `optiflow.access` (optiflow.middleware.AccessLogMiddleware), and every other record in the
# same shape, carrying the request id of the request it was written in.
LOG_CONTEXT = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]
structlog.configure(
    processors=[*LOG_CONTEXT, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
    cache_logger_on_first_use=True,
)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": structlog.stdlib.ProcessorFormatter,
            "foreign_pre_chain": LOG_CONTEXT,
            "processors": [
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "pgserver": {"level": "WARNING"},
        # Task registration at every start of every command, a line per job deferred, and a
        # line per webhook request (the worker logs each job's start and outcome already).
        "procrastinate.blueprints": {"level": "WARNING"},
        "procrastinate.periodic": {"level": "WARNING"},
        "procrastinate.jobs": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
    },
}
