"""Settings, read from environment variables with safe development defaults.

Every variable is listed with its default in the README. `DASHBOARD_ENV=production`
turns on the hardened configuration and refuses to start without real secrets.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


DASHBOARD_ENV = env("DASHBOARD_ENV", "development")
if DASHBOARD_ENV not in ("development", "production"):
    raise ImproperlyConfigured("DASHBOARD_ENV must be 'development' or 'production'")
PRODUCTION = DASHBOARD_ENV == "production"
# pytest >= 8.2 sets PYTEST_VERSION for the test process and the processes it starts.
TESTING = "PYTEST_VERSION" in os.environ or "pytest" in Path(sys.argv[0]).name

DEBUG = envbool("DEBUG", not PRODUCTION and not TESTING)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off in production")

# The development defaults are in this public repository: production refuses them, even
# when they are set explicitly (copied from a development .env, say).
DEV_SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production-0123456789"  # noqa: S105
DEV_FIELD_ENCRYPTION_KEY = "Vtlbed9b-0Y6h6MNkzGdqahECTk1VdVMgwRO4aR8S38="

SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY is required in production")
    SECRET_KEY = DEV_SECRET_KEY
if PRODUCTION and SECRET_KEY == DEV_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is the development key from the repository: set a new random one"
    )

# Fernet keys for secrets at rest (API keys, webhook secrets). The first encrypts, all
# decrypt; `manage.py secrets_rotate` re-encrypts every row with the first.
FIELD_ENCRYPTION_KEYS = envlist("FIELD_ENCRYPTION_KEYS")
if not FIELD_ENCRYPTION_KEYS:
    if PRODUCTION:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is required in production")
    FIELD_ENCRYPTION_KEYS = [DEV_FIELD_ENCRYPTION_KEY]
if PRODUCTION and DEV_FIELD_ENCRYPTION_KEY in FIELD_ENCRYPTION_KEYS:
    raise ImproperlyConfigured(
        "FIELD_ENCRYPTION_KEYS holds the development key from the repository: generate a "
        "new one (see the README); to move secrets saved with it, run secrets_rotate with "
        "the new key first, then remove the development key"
    )

PORT = envint("PORT", 8000)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,testserver")
if PRODUCTION and (not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS):
    raise ImproperlyConfigured("ALLOWED_HOSTS must list the dashboard's host names in production")
# The dashboard's public origin: OAuth callback, webhook URL and email links use it. In
# production it defaults to https on the first allowed host, and must be https.
SITE_URL = env(
    "SITE_URL",
    f"https://{ALLOWED_HOSTS[0].lstrip('.')}" if PRODUCTION else f"http://127.0.0.1:{PORT}",
).rstrip("/")
if PRODUCTION and not SITE_URL.startswith("https://"):
    raise ImproperlyConfigured("SITE_URL must be an https:// URL in production")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", SITE_URL)

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.admin",
    "django_htmx",
    "template_partials",
    "csp",
    "axes",
    "django_otp",
    "django_otp_webauthn",
    "dashboard",
    "accounts",
    "media",
    "events",
    "alert_channels",
    "posts",
    "sandbox",
    "mfa",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "dashboard.middleware.RejectNulBytesMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "mfa.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
    # Last, so it sees a view's exception first: an undecryptable secret is explained.
    "dashboard.middleware.SecretsUnreadableMiddleware",
]

ROOT_URLCONF = "dashboard.urls"
WSGI_APPLICATION = "dashboard.wsgi.application"

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
                "dashboard.context_processors.workspace",
            ],
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=envint("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web server, the worker and beat read while one of them writes;
        # IMMEDIATE transactions take the write lock up front instead of failing mid-way.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # A file (not :memory:) so that a real worker process started by a test sees it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Sessions are read through the cache (SESSION_ENGINE below) and the password reset limit
# counts in it, so every web process must share it: with a per-process cache, a session
# signed out in one gunicorn worker stays valid in the others, and each worker counts
# its own resets. Production needs CACHE_URL; development runs one web process.
if PRODUCTION and not env("CACHE_URL"):
    raise ImproperlyConfigured(
        "CACHE_URL is required in production (e.g. redis://127.0.0.1:6379/1): sessions are "
        "read through the cache, and a per-process cache keeps a signed-out session "
        "working in the other web workers"
    )
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env("CACHE_URL")}
        if env("CACHE_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Login throttling: a username + IP pair is locked for a cool-off after repeated failures.
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = envint("LOGIN_COOLOFF_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# Reverse proxies in front: X-Forwarded-For is trusted this many hops deep, no further.
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", 0)
# The same client IP for lockouts as for the audit log (django-ipware is not installed,
# so axes' own AXES_IPWARE_* settings would be ignored).
AXES_CLIENT_IP_CALLABLE = "dashboard.audit.client_ip"
# A wrong two-factor code counts as a failed sign-in too; axes never stores what was typed.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "code"]

# Two-factor sign-in (mfa/): support staff read every workspace, so in production their
# sessions need it; off in development so the demo's `support` / `support` still works.
MFA_REQUIRED_FOR_STAFF = envbool("MFA_REQUIRED_FOR_STAFF", PRODUCTION)
# The name authenticator apps show next to the code.
MFA_ISSUER = env("MFA_ISSUER", "SocialAPI Dashboard")
# Passkeys (django-otp-webauthn) are a second factor only, bound to SITE_URL's host.
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False
OTP_WEBAUTHN_RP_ID_CALLABLE = "mfa.passkeys.relying_party_id"
OTP_WEBAUTHN_RP_NAME = MFA_ISSUER
# The origin really checked is SITE_URL's, read per request (mfa.passkeys); this list only
# satisfies the library's start-up check, which wants https or localhost.
OTP_WEBAUTHN_ALLOWED_ORIGINS = [SITE_URL if SITE_URL.startswith("https://") else "http://localhost"]
OTP_WEBAUTHN_HELPER_CLASS = "mfa.passkeys.PasskeyHelper"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION
if not PRODUCTION:
    # WhiteNoise warns about a missing STATIC_ROOT even when it serves from finders.
    STATIC_ROOT.mkdir(exist_ok=True)

MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# --- Email -------------------------------------------------------------------------
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 587)
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "SocialAPI Dashboard <dashboard@localhost>")

# --- Celery ------------------------------------------------------------------------
# With no broker configured, kombu's filesystem transport under var/ needs no server; our
# subclass of it (dashboard/broker.py) writes each message atomically and sets aside a file
# it cannot read instead of letting the worker die on it.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT = "dashboard.broker:Transport"
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control", "failed"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "failed_folder": str(_broker_dir / "failed"),
        "store_processed": False,
        # A worker sleeps this long whenever the queue is empty or its pool is busy (kombu's
        # default, 1 s, held the embedded worker to a few tasks a second).
        "polling_interval": 0.1,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", TESTING)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", 60 * 30)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60
# Tests that start a real worker give it a queue of its own, so concurrent runs (or a
# running `make run`) never take each other's tasks.
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_QUEUE", "dashboard")
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- SocialAPI ---------------------------------------------------------------------
# SocialAPI itself; the default base URL of new workspaces unless SOCIALAPI_BASE_URL names
# another. A base URL the operator sets here is trusted like SOCIALAPI_ALLOWED_BASE_URLS
# (it may be a private proxy); the public one is only ever reached at public addresses.
SOCIALAPI_PUBLIC_BASE_URL = "https://api.social-api.ai/v1"
SOCIALAPI_DEFAULT_BASE_URL = env("SOCIALAPI_BASE_URL", SOCIALAPI_PUBLIC_BASE_URL)
SOCIALAPI_TIMEOUT = float(env("SOCIALAPI_TIMEOUT", "10"))
SOCIALAPI_CONNECT_TIMEOUT = float(env("SOCIALAPI_CONNECT_TIMEOUT", "5"))
SOCIALAPI_MAX_ATTEMPTS = envint("SOCIALAPI_MAX_ATTEMPTS", 4)
SOCIALAPI_MAX_RETRY_SECONDS = float(env("SOCIALAPI_MAX_RETRY_SECONDS", "30"))
# Base URLs a workspace admin may choose (prefixes). Empty: any https URL at a public
# address (and the sandbox when it is enabled). Keeps the dashboard from being pointed at
# internal hosts; what is listed here may be private (dashboard.forms.base_url_operator_trusted).
SOCIALAPI_ALLOWED_BASE_URLS = envlist("SOCIALAPI_ALLOWED_BASE_URLS")

# --- Alert channels (Slack, Teams, signed JSON webhooks) ---------------------------
# URL prefixes the operator trusts for alert channels: URLs under them may be http and at
# private addresses (an internal chat server). Every other channel URL must be https at a
# public address, checked by name in the form and on the resolved address at every
# connection (alert_channels.forms.channel_url_operator_trusted). Sends use the
# SOCIALAPI_TIMEOUT / SOCIALAPI_CONNECT_TIMEOUT of every other outbound call.
ALERT_CHANNEL_TRUSTED_URLS = envlist("ALERT_CHANNEL_TRUSTED_URLS")

# Background schedules and job settings. A change upstream shows on an open page within
# DISPATCH_SECONDS + WATCH_SECONDS + LIVE_POLL_SECONDS (+ the calls themselves): keep the
# sum well under a minute (tests/dashboard/test_freshness_budget.py checks the defaults).
# Beat wakes the dispatcher this often; it enqueues each workspace's due syncs.
DISPATCH_SECONDS = envint("DISPATCH_SECONDS", 10)
# The watch: the storage figure and upstream's events log, the two cheap calls that see
# most changes (default interval of new workspaces; each workspace can change its own).
WATCH_SECONDS = envint("WATCH_SECONDS", 20)
# An open page asks whether anything it shows changed this often (204 when nothing did).
LIVE_POLL_SECONDS = envint("LIVE_POLL_SECONDS", 10)
# While the API key or billing pauses background work, users/me is asked this often to
# see whether the pause is over.
PAUSED_PROBE_SECONDS = envint("PAUSED_PROBE_SECONDS", 30)
# While a platform throttling banner shows, one account call on that platform asks
# whether the platform answers again, at most this often.
THROTTLE_PROBE_SECONDS = envint("THROTTLE_PROBE_SECONDS", 20)
# While a monthly limit banner shows, usage figures are asked again at most this often
# (the figures are what say the allowance has room again).
USAGE_RECHECK_SECONDS = envint("USAGE_RECHECK_SECONDS", 20)
# A storage figure whose file count or bytes disagree with the media library mirror
# resyncs the mirror, at most this often.
MEDIA_RESYNC_SECONDS = envint("MEDIA_RESYNC_SECONDS", 60)
# The storage forecast (media/forecast.py): a banner and an alert when storage would be
# full in fewer than STORAGE_FORECAST_DAYS days at the last 7 days' pace, until it is
# more than STORAGE_FORECAST_DAYS + STORAGE_FORECAST_HYSTERESIS_DAYS again. A forecast is
# made only from figures covering STORAGE_FORECAST_MIN_DAYS days, with a figure on at
# least STORAGE_FORECAST_MIN_FIGURES of the last 7; the growth is measured again at most
# this often (it is kept on the latest figure, so pages never measure it).
STORAGE_FORECAST_DAYS = envint("STORAGE_FORECAST_DAYS", 7)
STORAGE_FORECAST_HYSTERESIS_DAYS = envint("STORAGE_FORECAST_HYSTERESIS_DAYS", 2)
STORAGE_FORECAST_MIN_DAYS = envint("STORAGE_FORECAST_MIN_DAYS", 3)
STORAGE_FORECAST_MIN_FIGURES = envint("STORAGE_FORECAST_MIN_FIGURES", 3)
STORAGE_FORECAST_REFRESH_SECONDS = envint("STORAGE_FORECAST_REFRESH_SECONDS", 3600)
HEALTH_SYNC_MINUTES = envint("HEALTH_SYNC_MINUTES", 10)
MEDIA_SYNC_MINUTES = envint("MEDIA_SYNC_MINUTES", 60)
USAGE_SYNC_MINUTES = envint("USAGE_SYNC_MINUTES", 30)
BULK_DELETE_CONCURRENCY = envint("BULK_DELETE_CONCURRENCY", 8)
# A job whose runner has not reported for this long is picked up by the sweeper.
BULK_DELETE_LEASE_SECONDS = envint("BULK_DELETE_LEASE_SECONDS", 60)
# A retry job of failed posts whose runner has not reported for this long is resumed.
POST_RETRY_LEASE_SECONDS = envint("POST_RETRY_LEASE_SECONDS", 60)
ERROR_EVENT_RETENTION_DAYS = envint("ERROR_EVENT_RETENTION_DAYS", 180)
RECONNECT_LINK_DAYS = envint("RECONNECT_LINK_DAYS", 7)
RECONNECT_STATE_MINUTES = 10
WEBHOOK_TOLERANCE_SECONDS = envint("WEBHOOK_TOLERANCE_SECONDS", 300)
PLATFORM_THROTTLE_BANNER_MINUTES = envint("PLATFORM_THROTTLE_BANNER_MINUTES", 30)
# "SocialAPI errors": this many 5xx from any source in the window, or this many of the
# dashboard's own calls failing with 5xx after their retries, show the outage banner; it
# clears once a call succeeds with no new 5xx for SERVER_ERROR_QUIET_SECONDS.
SERVER_ERROR_BURST_MINUTES = envint("SERVER_ERROR_BURST_MINUTES", 10)
SERVER_ERROR_BURST_COUNT = envint("SERVER_ERROR_BURST_COUNT", 5)
SERVER_ERROR_FAILING_COUNT = envint("SERVER_ERROR_FAILING_COUNT", 2)
SERVER_ERROR_QUIET_SECONDS = envint("SERVER_ERROR_QUIET_SECONDS", 15)

# --- Metrics (a Prometheus endpoint at /metrics) ----------------------------------
# Off (404) unless a bearer token or client networks are set; with both, a scrape needs
# both. Client IPs are read as everywhere else (TRUSTED_PROXY_COUNT).
METRICS_TOKEN = env("METRICS_TOKEN")
if PRODUCTION and METRICS_TOKEN and len(METRICS_TOKEN) < 32:
    raise ImproperlyConfigured("METRICS_TOKEN must be at least 32 characters in production")
METRICS_ALLOWED_NETWORKS = envlist("METRICS_ALLOWED_NETWORKS")
for _network in METRICS_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"METRICS_ALLOWED_NETWORKS: {_network!r} is not an address or a CIDR network"
        ) from None

# --- Sandbox (a local SocialAPI for demos and tests) ------------------------------
SANDBOX_ENABLED = envbool("SANDBOX_ENABLED", TESTING)
if PRODUCTION and SANDBOX_ENABLED:
    raise ImproperlyConfigured("The sandbox must not be enabled in production")
SANDBOX_BASE_URL = env("SANDBOX_BASE_URL", f"{SITE_URL}/sandbox/v1")

# --- Security ----------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Lax, not Strict: the OAuth return is a cross-site top-level navigation that must
# carry the session so the state can be checked against it.
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_HTTPONLY = True
# htmx reads the CSRF token from the page (`hx-headers` on <body>), never from the cookie.
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = envint("SESSION_COOKIE_AGE", 60 * 60 * 24 * 14)
# Sessions are read from the cache (Redis in production) and written through to the
# database: htmx polls cost no session query.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
# Invitations to join a workspace and password reset links stay valid this long.
INVITATION_DAYS = envint("INVITATION_DAYS", 7)
PASSWORD_RESET_TIMEOUT = envint("PASSWORD_RESET_TIMEOUT_HOURS", 2) * 3600
# At most this many password reset emails per address (and per client IP) per hour.
PASSWORD_RESET_HOURLY_LIMIT = envint("PASSWORD_RESET_HOURLY_LIMIT", 5)
if PRODUCTION:
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # The `preload` directive only takes effect once the domain is submitted to the
    # browsers' list; sending it is what `check --deploy` asks for. Opt out with false.
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # `__Host-` cookies are only accepted by browsers when Secure, Path=/ and without a
    # Domain: no sibling subdomain can set or shadow them.
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"

# No inline scripts anywhere: htmx comes from django-htmx's static file and its
# configuration from a <meta> tag. `form-action` is left unset on purpose: the
# Reconnect form redirects to the platform's consent page on another origin.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", *envlist("CSP_IMG_SRC", "https:" if PRODUCTION else "")],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Every record goes through the one console handler and its filters: no secret path
    # segment (reconnect link, invitation, password reset token) in any line, and a 4xx
    # is one line without a traceback (dashboard/logs.py).
    "filters": {
        "client_errors": {"()": "dashboard.logs.ClientErrorFilter"},
        "secret_paths": {"()": "dashboard.logs.SecretPathFilter"},
    },
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["client_errors", "secret_paths"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's default handlers (a second, unfiltered console copy under DEBUG; mail
        # to ADMINS, never set here) are replaced by the root's.
        "django": {"handlers": [], "level": env("LOG_LEVEL", "INFO"), "propagate": True},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}

# --- Periodic work -------------------------------------------------------------------
# One dispatcher every DISPATCH_SECONDS enqueues each workspace's syncs when they are due
# (each workspace has its own intervals), so beat's schedule never needs to know workspaces.
CELERY_BEAT_SCHEDULE = {
    "workspace-syncs": {
        "task": "dashboard.tasks.workspace_syncs_dispatch",
        "schedule": float(max(1, DISPATCH_SECONDS)),
    },
    "bulk-deletion-sweep": {"task": "media.tasks.bulk_deletion_sweep", "schedule": 60.0},
    "account-alert-reminders": {
        "task": "accounts.tasks.account_alert_reminders",
        "schedule": 3600.0,
    },
    "error-events-prune": {"task": "events.tasks.error_events_prune", "schedule": 6 * 3600.0},
    "alert-sends-sweep": {"task": "alert_channels.tasks.alert_sends_sweep", "schedule": 300.0},
    "post-retry-sweep": {"task": "posts.tasks.post_retry_sweep", "schedule": 60.0},
    "failed-posts-prune": {"task": "posts.tasks.failed_posts_prune", "schedule": 6 * 3600.0},
}
if SANDBOX_ENABLED:
    # The sandbox plays upstream's scheduler: posts publish (or fail) when they come due.
    CELERY_BEAT_SCHEDULE["sandbox-posts-due"] = {
        "task": "sandbox.tasks.posts_due_publish_task",
        "schedule": 60.0,
    }
