"""Django settings for OptiFlow: every value that varies between machines comes from the
environment, read here and nowhere else (see the README's table of variables)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def database_from_url(url: str) -> dict:
    """Translate ``postgresql://user:pass@host:port/name?host=/socket/dir`` into Django's shape."""
    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql"}:
        raise ImproperlyConfigured("DATABASE_URL must be a postgresql:// URL (PostgreSQL only).")
    query = parse_qs(parsed.query)
    return {
        "ENGINE": "django_tenants.postgresql_backend",
        "NAME": unquote(parsed.path.lstrip("/")) or "postgres",
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": query.get("host", [parsed.hostname or ""])[0],
        "PORT": str(parsed.port or ""),
        # Persistent connections: one TCP/socket handshake per worker thread, not per request.
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
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
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", f"127.0.0.1,localhost,.{OPTIFLOW_BASE_DOMAIN}")

SHARED_APPS = [
    "django_tenants",  # first: its `migrate` command replaces Django's
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
    "idempotency",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
# SchemaRouter narrows django-tenants' per-app routing to per-model; django-tenants insists on
# seeing its own router listed, and it is consulted only when ours has no opinion.
DATABASE_ROUTERS = ["tenants.routers.SchemaRouter", "django_tenants.routers.TenantSyncRouter"]
AUTH_USER_MODEL = "tenants.User"
# Issue `SET search_path` when the schema changes, not before every cursor.
TENANT_LIMIT_SET_CALLS = True

MIDDLEWARE = [
    "optiflow.middleware.RequestIdMiddleware",
    "tenants.middleware.TenantMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
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

OPTIFLOW_RATE_LIMIT_USER = os.environ.get("OPTIFLOW_RATE_LIMIT_USER", "60/min")
OPTIFLOW_RATE_LIMIT_ANON = os.environ.get("OPTIFLOW_RATE_LIMIT_ANON", "10/min")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["optiflow.api.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["optiflow.api.permissions.HasPermission"],
    "DEFAULT_THROTTLE_CLASSES": ["optiflow.api.throttling.RateLimitThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
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

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}, "pgserver": {"level": "WARNING"}},
}
