"""Muster settings. Everything comes from the environment and is read once, here.

With nothing set, Muster runs on SQLite with Celery tasks executed in-process (``make run``).
``DATABASE_URL`` (PostgreSQL) and ``REDIS_URL`` (Celery broker and cache) switch on the production path.
"""

import sys
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

TESTING = "pytest" in sys.modules or (len(sys.argv) > 1 and sys.argv[1] == "test")

DEBUG = env.bool("DEBUG", default=False)

DEV_SECRET_KEY = "muster-insecure-development-key-do-not-use-in-production"
SECRET_KEY = env("SECRET_KEY", default="") or DEV_SECRET_KEY


def require_production_secrets() -> None:
    """Called by the WSGI/ASGI app and the Celery app: a server without DEBUG refuses the development key.

    Management commands (migrate, makemigrations, createapitoken) still run without it.
    """
    if not DEBUG and not TESTING and SECRET_KEY == DEV_SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY must be set in production (DEBUG is off).")


ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.sites",
    "rest_framework",
    "django_filters",
    "django_htmx",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    # Muster, in dependency order (each imports only the ones above it).
    "core",
    "teams",
    "incidents",
    "notifications",
    "oncall",
    "paging",
    "statuspage",
    "playbooks",
    "postmortems",
]
# Extra Django apps (plugins), e.g. ones that register timeline consumers of their own.
INSTALLED_APPS += env.list("MUSTER_PLUGINS", default=[])

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.RequestGuardMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.middleware.NoStoreMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "core.middleware.ContentionMiddleware",
    "core.middleware.AppNotFoundMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "core.context_processors.muster",
                "notifications.context_processors.attention",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"].setdefault("ATOMIC_REQUESTS", False)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = 0 if TESTING else env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the dev server, the in-process tasks and a browser test share the file.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker and cache ---------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CACHES["shared"] = CACHES["default"]
else:
    # Without Redis the default cache is per process; what every process must agree on (the login throttle) goes
    # to files that all the processes of this machine share.
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "shared": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": env("SHARED_CACHE_DIR", default=str(BASE_DIR / ".cache" / "shared")),
        },
    }
# Status pages (statuspage/cache.py): the cache shared by every process that holds their rendered API, how long an
# entry lives (bounds a change made outside the services), how long "no such page" is remembered, and the max-age
# a browser or CDN is told it may keep a public page's answer.
STATUSPAGE_CACHE = env("STATUSPAGE_CACHE", default="shared")
STATUSPAGE_CACHE_SECONDS = env.int("STATUSPAGE_CACHE_SECONDS", default=300)
STATUSPAGE_MISSING_CACHE_SECONDS = env.int("STATUSPAGE_MISSING_CACHE_SECONDS", default=30)
STATUSPAGE_MAX_AGE = env.int("STATUSPAGE_MAX_AGE", default=30)
# Failed sign-ins allowed per account and per client address in LOGIN_THROTTLE_WINDOW seconds, on every login path
# (the sign-in page, the admin, SSO-less API sessions).
LOGIN_THROTTLE_PER_ACCOUNT = env.int("LOGIN_THROTTLE_PER_ACCOUNT", default=5)
LOGIN_THROTTLE_PER_ADDRESS = env.int("LOGIN_THROTTLE_PER_ADDRESS", default=30)
LOGIN_THROTTLE_WINDOW = env.int("LOGIN_THROTTLE_WINDOW", default=900)

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# Without a broker, tasks run in-process right after the transaction commits.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Reconnects after a broker restart that Celery 5.7 would not survive (see config/worker.py).
CELERY_WORKER_CONSUMER = "config.worker:Consumer"
# A killed worker's message comes back after this long (not Redis' default hour).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=90),
    "socket_timeout": 5,
    "socket_connect_timeout": 5,
}
CELERY_BEAT_SCHEDULE = {
    "sweep-timeline-consumers": {
        "task": "incidents.tasks.sweep_timeline_consumers",
        "schedule": timedelta(seconds=env.int("CONSUMER_SWEEP_SECONDS", default=30)),
    },
    "expire-idempotency-keys": {
        "task": "incidents.tasks.expire_idempotency_keys",
        "schedule": timedelta(hours=1),
    },
}

# --- Notifications -----------------------------------------------------------------------------------
# Each channel is switched on by configuration; none is required.
SLACK_BOT_TOKEN = env("SLACK_BOT_TOKEN", default="")
SLACK_API_URL = env("SLACK_API_URL", default="https://slack.com/api/")
SLACK_TIMEOUT = env.int("SLACK_TIMEOUT", default=10)
SLACK_INCIDENT_CHANNELS = env.bool("SLACK_INCIDENT_CHANNELS", default=True)
NOTIFY_EMAIL = env.bool("NOTIFY_EMAIL", default=bool(env("EMAIL_URL", default="")))
NOTIFY_MESSAGE_ID_DOMAIN = env("NOTIFY_MESSAGE_ID_DOMAIN", default="muster.localhost")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
WEBHOOK_TIMEOUT = env.int("WEBHOOK_TIMEOUT", default=10)
# A declare repeated with the same Idempotency-Key within this window returns the first incident.
INCIDENT_IDEMPOTENCY_WINDOW = timedelta(hours=env.int("INCIDENT_IDEMPOTENCY_WINDOW_HOURS", default=24))
# A key whose declaration has not finished after this long (its process died) may be used again.
INCIDENT_IDEMPOTENCY_STALE_SECONDS = env.int("INCIDENT_IDEMPOTENCY_STALE_SECONDS", default=60)
# Live pages: an open incident page, the dashboard and the list ask every this many seconds whether anything changed
# (one indexed query; "204 No Content" when nothing did), and re-render in full at least every LIVE_MAX_AGE_SECONDS
# so that what depends on the clock alone (an overdue update, delivery states) is current too.
LIVE_POLL_SECONDS = env.float("LIVE_POLL_SECONDS", default=15.0)
LIVE_MAX_AGE_SECONDS = env.float("LIVE_MAX_AGE_SECONDS", default=60.0)
# Outgoing webhooks never reach loopback, private, link-local or other internal addresses, except in these networks
# (CIDRs, comma separated), e.g. OUTBOUND_ALLOWED_NETWORKS=10.20.0.0/16 for a receiver on the internal network.
OUTBOUND_ALLOWED_NETWORKS = env.list("OUTBOUND_ALLOWED_NETWORKS", default=[])
NOTIFY_MAX_ATTEMPTS = env.int("NOTIFY_MAX_ATTEMPTS", default=10)
NOTIFY_LEASE_SECONDS = env.int("NOTIFY_LEASE_SECONDS", default=60)  # a killed delivery is retried after this
NOTIFY_GRACE_SECONDS = env.int("NOTIFY_GRACE_SECONDS", default=20)  # pending this long: the sweeper re-queues
NOTIFY_SWEEP_SECONDS = env.int("NOTIFY_SWEEP_SECONDS", default=15)
NOTIFY_BATCH_SIZE = env.int("NOTIFY_BATCH_SIZE", default=100)
NOTIFY_COUNTDOWN_MAX_SECONDS = env.int("NOTIFY_COUNTDOWN_MAX_SECONDS", default=60)
NOTIFY_REMINDER_SECONDS = env.int("NOTIFY_REMINDER_SECONDS", default=60)  # how often nudges are checked
NOTIFY_NO_LEAD_MINUTES = env.int("NOTIFY_NO_LEAD_MINUTES", default=5)
NOTIFY_CLOSE_AFTER_HOURS = env.int("NOTIFY_CLOSE_AFTER_HOURS", default=24)
CELERY_BEAT_SCHEDULE |= {
    "sweep-messages": {
        "task": "notifications.tasks.sweep_messages",
        "schedule": timedelta(seconds=NOTIFY_SWEEP_SECONDS),
    },
    "check-reminders": {
        "task": "notifications.tasks.check_reminders",
        "schedule": timedelta(seconds=NOTIFY_REMINDER_SECONDS),
    },
}

# --- On-call paging ----------------------------------------------------------------------------------
ONCALL_MINUTE_SECONDS = env.float("ONCALL_MINUTE_SECONDS", default=60)  # the length of a "minute" (tests: 1)
ONCALL_DEFAULT_WAIT_MINUTES = env.int("ONCALL_DEFAULT_WAIT_MINUTES", default=15)  # pages without a policy
ONCALL_COUNTDOWN_MAX_SECONDS = env.int("ONCALL_COUNTDOWN_MAX_SECONDS", default=60)  # longer waits: re-woken
ONCALL_SWEEP_SECONDS = env.int("ONCALL_SWEEP_SECONDS", default=15)
ONCALL_SWEEP_GRACE_SECONDS = env.float("ONCALL_SWEEP_GRACE_SECONDS", default=10)  # overdue this long: swept
# An open incident of this severity (a slug) or worse with nobody paged and nobody acknowledging shows a warning
# with a one-click page; a team whose policy pages automatically at a lower severity widens it for its incidents.
PAGING_WARN_SEVERITY = env("PAGING_WARN_SEVERITY", default="critical")
CELERY_BEAT_SCHEDULE["sweep-pages"] = {
    "task": "paging.tasks.sweep_pages",
    "schedule": timedelta(seconds=ONCALL_SWEEP_SECONDS),
}

# Timeline consumers: how long a consumer run may stay unfinished before the sweeper re-dispatches it.
TIMELINE_CONSUMER_GRACE_SECONDS = env.int("TIMELINE_CONSUMER_GRACE_SECONDS", default=30)
TIMELINE_CONSUMER_MAX_ATTEMPTS = env.int("TIMELINE_CONSUMER_MAX_ATTEMPTS", default=8)

# --- Auth -----------------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    # Django's model backend, first, refusing every password check while the login throttle holds.
    "core.throttle.LoginThrottleBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
SITE_ID = 1
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGOUT_REDIRECT_URL = "/accounts/login/"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = env("ACCOUNT_EMAIL_VERIFICATION", default="none")
ACCOUNT_ALLOW_REGISTRATION = env.bool("ACCOUNT_ALLOW_REGISTRATION", default=False)
ACCOUNT_ADAPTER = "core.auth.AccountAdapter"
ACCOUNT_LOGOUT_ON_GET = False
# Failed sign-ins are counted once, by core.throttle, for every login path (this page, the admin, the API); allauth's
# own counter (per process without Redis, with another message) would only contradict it.
ACCOUNT_RATE_LIMITS = {"login_failed": None}
SOCIALACCOUNT_ADAPTER = "core.auth.SocialAccountAdapter"

# Single sign-on through any OpenID Connect provider (Okta, Keycloak, Google Workspace, Azure AD...).
OIDC_PROVIDER_ID = env("OIDC_PROVIDER_ID", default="sso")
OIDC_SERVER_URL = env("OIDC_SERVER_URL", default="")
SOCIALACCOUNT_PROVIDERS = {}
if OIDC_SERVER_URL:
    SOCIALACCOUNT_PROVIDERS["openid_connect"] = {
        "OAUTH_PKCE_ENABLED": True,
        "APPS": [
            {
                "provider_id": OIDC_PROVIDER_ID,
                "name": env("OIDC_NAME", default="Single sign-on"),
                "client_id": env("OIDC_CLIENT_ID"),
                "secret": env("OIDC_CLIENT_SECRET"),
                "settings": {"server_url": OIDC_SERVER_URL},
            }
        ],
    }
SOCIALACCOUNT_ONLY = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- API ------------------------------------------------------------------------------------------
# A new API token expires after this many days unless its owner picks another date; 0: never.
API_TOKEN_DEFAULT_DAYS = env.int("API_TOKEN_DEFAULT_DAYS", default=90)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "core.api.exceptions.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.DefaultCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
_SYSTEM_FONTS = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'
_MONOSPACE_FONTS = 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace'
SPECTACULAR_SETTINGS = {
    "TITLE": "Muster API",
    "DESCRIPTION": "Incident management: declare, triage, page, coordinate, communicate, learn.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # One name per choice set (the incident status is a status, a transition target and an allowed move), and
    # team roles named apart from incident roles.
    "ENUM_NAME_OVERRIDES": {
        "IncidentStatusEnum": "incidents.models.Incident.Status",
        "TeamRoleEnum": "teams.models.Membership.Role",
        "MessageStatusEnum": "notifications.models.Message.Status",
        "NotificationChannelEnum": "notifications.models.Channel",
    },
    # Swagger UI and ReDoc are served from the sidecar package's static files: no CDN at run time. ReDoc's page
    # (templates/drf_spectacular/redoc.html) has no web-font links, and its theme names system fonts; Swagger UI
    # does not send the schema to swagger.io's validator (which shows a badge loaded from there).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_DIST": "SIDECAR",
    "REDOC_UI_SETTINGS": {
        "theme": {
            "typography": {
                "fontFamily": _SYSTEM_FONTS,
                "headings": {"fontFamily": _SYSTEM_FONTS},
                "code": {"fontFamily": _MONOSPACE_FONTS},
            }
        }
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.schema.document_malformed_requests",
    ],
}

# --- I18N, time -----------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static ---------------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = DEBUG or TESTING
WHITENOISE_AUTOREFRESH = DEBUG or TESTING
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Email ----------------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Muster <muster@localhost>")

# --- Security (production) ------------------------------------------------------------------------
if not DEBUG and not TESTING:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Request body bound for every inbound request (webhooks included).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)
