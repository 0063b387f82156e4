"""CapitolScope settings: one module, driven by environment variables.

Every variable is documented in README.md ("Configuration") and .env.example. Development
defaults run on a fresh machine with nothing installed; ``DJANGO_ENV=production`` refuses to
start on an insecure default.
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

from capitolscope.env import (
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_str,
    parse_database_url,
    redact_url,
    sqlite_database,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR") or BASE_DIR / "var")

DJANGO_ENV = env_choice("DJANGO_ENV", "development", choices=("development", "production"))
PRODUCTION = DJANGO_ENV == "production"

# --- Core ---------------------------------------------------------------------------------

_INSECURE_KEY = "django-insecure-capitolscope-development-only-key-do-not-use-in-production"
SECRET_KEY = env_str("SECRET_KEY", _INSECURE_KEY)
DEBUG = env_bool("DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", [] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# Absolute base URL used in links that leave the site (alert emails, webhook payloads).
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

if PRODUCTION:
    problems = []
    if SECRET_KEY == _INSECURE_KEY or len(SECRET_KEY) < 50:
        problems.append("SECRET_KEY must be set to a random value of at least 50 characters")
    if not ALLOWED_HOSTS:
        problems.append("ALLOWED_HOSTS must list the host names this site answers to")
    if DEBUG:
        problems.append("DEBUG must be off")
    if problems:
        raise ImproperlyConfigured("DJANGO_ENV=production refuses to start: " + "; ".join(problems))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "django_celery_results",
    "ingestion",
    "alerts",
    "monitoring",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

if PRODUCTION:
    # gunicorn serves the collected static files itself (runserver does it in development).
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "capitolscope.urls"
WSGI_APPLICATION = "capitolscope.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "capitolscope" / "templates"],
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

# --- Database -----------------------------------------------------------------------------

_default_sqlite = VAR_DIR / "capitolscope.sqlite3"
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    _db = parse_database_url(
        DATABASE_URL, base_dir=BASE_DIR, conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0)
    )
    DATABASES = {"default": _db.settings}
else:
    DATABASES = {"default": sqlite_database(_default_sqlite)}
DATABASE_DISPLAY = redact_url(DATABASE_URL) if DATABASE_URL else f"sqlite:///{_default_sqlite}"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth, i18n, static -------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGOUT_REDIRECT_URL = "login"
LOGIN_REDIRECT_URL = "/"

# Self-service accounts (capitolscope/accounts.py). Sign-up at /accounts/signup/ creates an
# inactive account and emails a link that confirms the address; off closes sign-up (accounts
# are then made in the admin). The link expires after this many days. Password reset links
# last Django's PASSWORD_RESET_TIMEOUT (3 days).
ACCOUNTS_SIGNUP_OPEN = env_bool("ACCOUNTS_SIGNUP_OPEN", default=True)
ACCOUNTS_CONFIRM_MAX_AGE_DAYS = env_int("ACCOUNTS_CONFIRM_MAX_AGE_DAYS", 3, minimum=1)
# Account emails (sign-up, confirmation resend, password reset) allowed per address and per
# client IP (see CLIENT_IP_FROM_X_FORWARDED_FOR) in a window: N/s, N/m, N/h or N/d; beyond
# it the page answers 429.
# Behind our reverse proxy every request comes from the proxy's address: set this on and the
# client IP is the last address in X-Forwarded-For (the one our proxy appended; earlier ones
# are the client's to forge). Off (default): REMOTE_ADDR, for a server reached directly.
CLIENT_IP_FROM_X_FORWARDED_FOR = env_bool("CLIENT_IP_FROM_X_FORWARDED_FOR", default=False)
ACCOUNTS_EMAIL_RATE = env_str("ACCOUNTS_EMAIL_RATE", "5/h")
ACCOUNTS_EMAIL_IP_RATE = env_str("ACCOUNTS_EMAIL_IP_RATE", "20/h")
for _name, _rate in (
    ("ACCOUNTS_EMAIL_RATE", ACCOUNTS_EMAIL_RATE),
    ("ACCOUNTS_EMAIL_IP_RATE", ACCOUNTS_EMAIL_IP_RATE),
):
    _count, _, _unit = _rate.partition("/")
    if not (_count.isdigit() and int(_count) >= 1 and _unit in {"s", "m", "h", "d"}):
        raise ImproperlyConfigured(f"{_name}={_rate!r} must read N/s, N/m, N/h or N/d (e.g. 5/h)")

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT") or VAR_DIR / "static")
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

# --- Security (production) ----------------------------------------------------------------

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=True)
    if env_bool("SECURE_PROXY_SSL_HEADER", default=False):
        # Only behind a proxy that strips and sets X-Forwarded-Proto itself.
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # The load balancer's probe must not be redirected to HTTPS.
    SECURE_REDIRECT_EXEMPT = [r"^health/$"]

# --- Email --------------------------------------------------------------------------------

EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
# Without an SMTP host, development prints mail to the worker's log instead of losing it.
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST or PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)
if not EMAIL_HOST:
    EMAIL_HOST = "localhost"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "CapitolScope <alerts@localhost>")
SERVER_EMAIL = env_str("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
ADMINS = [(address, address) for address in env_list("ADMINS")]

# --- Redis and Celery (DESIGN §5) ---------------------------------------------------------

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or REDIS_URL

# The longest hard time limit any task has (ingestion); the visibility timeout must exceed it
# so Redis never re-delivers a message whose task is still running.
TASK_LONGEST_TIME_LIMIT = 60 * 60
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 5 * 60, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 6 * 60, minimum=1)
if CELERY_TASK_TIME_LIMIT <= CELERY_TASK_SOFT_TIME_LIMIT:
    raise ImproperlyConfigured("CELERY_TASK_TIME_LIMIT must be greater than the soft limit")
CELERY_BROKER_VISIBILITY_TIMEOUT = env_int(
    "CELERY_BROKER_VISIBILITY_TIMEOUT", 2 * 60 * 60, minimum=1
)
if max(TASK_LONGEST_TIME_LIMIT, CELERY_TASK_TIME_LIMIT) >= CELERY_BROKER_VISIBILITY_TIMEOUT:
    raise ImproperlyConfigured(
        "CELERY_BROKER_VISIBILITY_TIMEOUT must be longer than the longest task time limit "
        f"({max(TASK_LONGEST_TIME_LIMIT, CELERY_TASK_TIME_LIMIT)} s)"
    )
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT,
    # Fail fast instead of hanging a web request or health check on a dead Redis.
    "socket_connect_timeout": 5,
    "socket_timeout": 10,
    "retry_on_timeout": True,
    "health_check_interval": 25,
    # Honour message priority (0 = most urgent) within a queue.
    "queue_order_strategy": "priority",
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = env_int("CELERY_BROKER_CONNECTION_MAX_RETRIES", 100)
CELERY_BROKER_CHANNEL_ERROR_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 3,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 2,
}

CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True

CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_TASK_TRACK_STARTED = True
# Celery's own expiry would install "celery.backend_cleanup", one DELETE over the whole
# results table. Retention is ours instead: monitoring.cleanup_old_data deletes results older
# than TASK_RESULT_RETENTION_DAYS in batches.
CELERY_RESULT_EXPIRES = None
TASK_RESULT_RETENTION_DAYS = env_int("TASK_RESULT_RETENTION_DAYS", 30, minimum=1)

CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_MAX_TASKS_PER_CHILD = env_int("CELERY_WORKER_MAX_TASKS_PER_CHILD", 200, minimum=1)
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env_int(
    "CELERY_WORKER_MAX_MEMORY_PER_CHILD", 512 * 1024, minimum=1
)  # KiB
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_WORKER_SEND_TASK_EVENTS = True
# What tasks print (the console email backend in development) is logged at INFO, not WARNING.
CELERY_WORKER_REDIRECT_STDOUTS_LEVEL = "INFO"
CELERY_TASK_SEND_SENT_EVENT = True

CELERY_QUEUE_NAMES = ("default", "notifications", "data_ingestion", "price_updates", "maintenance")
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = tuple(
    Queue(name, Exchange(name, type="direct"), routing_key=name) for name in CELERY_QUEUE_NAMES
)
# Exact names first, then patterns: Celery checks exact matches before globs.
CELERY_TASK_ROUTES = {
    "ingestion.update_stock_prices": {"queue": "price_updates", "routing_key": "price_updates"},
    "monitoring.cleanup_old_data": {"queue": "maintenance", "routing_key": "maintenance"},
    "monitoring.daily_maintenance": {"queue": "maintenance", "routing_key": "maintenance"},
    "ingestion.*": {"queue": "data_ingestion", "routing_key": "data_ingestion"},
    "alerts.*": {"queue": "notifications", "routing_key": "notifications"},
    "monitoring.*": {"queue": "default", "routing_key": "default"},
}
# Task modules autodiscovery cannot find (it reads the installed apps' tasks.py only):
# accounts.send_email lives in capitolscope, which is not an app; unrouted, it goes to default.
CELERY_IMPORTS = ("capitolscope.account_tasks",)

CELERY_BEAT_SCHEDULER = "capitolscope.beat:DatabaseScheduler"
# How often beat wakes up and checks the database for edited schedules: an operator's change
# in the admin takes effect within this many seconds.
CELERY_BEAT_MAX_LOOP_INTERVAL = env_int("CELERY_BEAT_MAX_LOOP_INTERVAL", 5, minimum=1)
DJANGO_CELERY_BEAT_TZ_AWARE = True

# --- Ingestion sources and price providers (DESIGN §8) ----------------------------------

HOUSE_CLERK_BASE_URL = env_str(
    "HOUSE_CLERK_BASE_URL", "https://disclosures-clerk.house.gov/public_disc"
).rstrip("/")
SENATE_EFD_BASE_URL = env_str("SENATE_EFD_BASE_URL", "https://efdsearch.senate.gov").rstrip("/")
# Dotted path of the class that fetches Senate eFD pages; the live site may refuse plain HTTP
# clients (403), so a headless-browser fetcher can be plugged in here.
SENATE_EFD_FETCHER = env_str("SENATE_EFD_FETCHER", "ingestion.sources.RequestsFetcher")
SENATE_EFD_MIN_INTERVAL = env_float("SENATE_EFD_MIN_INTERVAL", 2.0, minimum=0)
INGESTION_USER_AGENT = env_str(
    "INGESTION_USER_AGENT", f"CapitolScope/1.0 (+{SITE_URL}; congressional trade watcher)"
)
INGESTION_FROM_EMAIL = env_str("INGESTION_FROM_EMAIL")
INGESTION_HTTP_TIMEOUT = env_float("INGESTION_HTTP_TIMEOUT", 30.0, minimum=1)
INGESTION_HTTP_MAX_RETRIES = env_int("INGESTION_HTTP_MAX_RETRIES", 3, minimum=0)
INGESTION_HTTP_MIN_INTERVAL = env_float("INGESTION_HTTP_MIN_INTERVAL", 0.5, minimum=0)
INGESTION_HTTP_BACKOFF_BASE = env_float("INGESTION_HTTP_BACKOFF_BASE", 2.0, minimum=0)
INGESTION_HTTP_MAX_BYTES = env_int("INGESTION_HTTP_MAX_BYTES", 50 * 1024 * 1024, minimum=1024)
# A sync that finds another sync of its source running (the weekly full sync meeting the
# two-hourly one) runs again this many seconds later, up to INGESTION_SYNC_BUSY_DEFERRALS
# times (by default an hour, longer than a sync may run), before it gives up as
# "already_running". Kept well under the broker visibility timeout (a countdown on Redis).
INGESTION_SYNC_BUSY_DELAY = env_int("INGESTION_SYNC_BUSY_DELAY", 300, minimum=1)
INGESTION_SYNC_BUSY_DEFERRALS = env_int("INGESTION_SYNC_BUSY_DEFERRALS", 12, minimum=0)
if INGESTION_SYNC_BUSY_DELAY > CELERY_BROKER_VISIBILITY_TIMEOUT / 2:
    raise ImproperlyConfigured(
        f"INGESTION_SYNC_BUSY_DELAY ({INGESTION_SYNC_BUSY_DELAY} s) must be at most half of "
        f"CELERY_BROKER_VISIBILITY_TIMEOUT ({CELERY_BROKER_VISIBILITY_TIMEOUT} s)"
    )

PRICE_PROVIDER = env_choice("PRICE_PROVIDER", "yahoo", choices=("yahoo", "stooq"))
YAHOO_CHART_BASE_URL = env_str(
    "YAHOO_CHART_BASE_URL", "https://query1.finance.yahoo.com/v8/finance/chart"
).rstrip("/")
STOOQ_BASE_URL = env_str("STOOQ_BASE_URL", "https://stooq.com").rstrip("/")
STOOQ_API_KEY = env_str("STOOQ_API_KEY")
# Prices are kept for tickers traded within this many days or watched by a subscription.
PRICE_TICKER_LOOKBACK_DAYS = env_int("PRICE_TICKER_LOOKBACK_DAYS", 90, minimum=1)

# --- Alerts (alerts/; DESIGN §3, §4) ------------------------------------------------------

# Webhooks to private, loopback or link-local addresses are refused unless this is on
# (tests and single-machine setups posting to a local receiver).
ALERTS_WEBHOOK_ALLOW_PRIVATE = env_bool("ALERTS_WEBHOOK_ALLOW_PRIVATE", default=False)
# Matching: trades claimed per batch (one transaction), batches per task run (the rest is
# left to a follow-up task, so one run never holds a worker for long).
ALERTS_MATCH_BATCH_SIZE = env_int("ALERTS_MATCH_BATCH_SIZE", 2000, minimum=1)
ALERTS_MATCH_MAX_BATCHES = env_int("ALERTS_MATCH_MAX_BATCHES", 20, minimum=1)
# Delivery retries: transient failures retry up to this many times, after an exponential
# backoff with jitter (base * 2^n seconds, capped; a 429's Retry-After is honoured up to the
# cap). The cap stays well below the broker visibility timeout (countdowns are held by Redis).
ALERTS_DELIVERY_MAX_RETRIES = env_int("ALERTS_DELIVERY_MAX_RETRIES", 8, minimum=0)
ALERTS_DELIVERY_BACKOFF_BASE = env_float("ALERTS_DELIVERY_BACKOFF_BASE", 30.0, minimum=0)
ALERTS_DELIVERY_BACKOFF_MAX = env_float("ALERTS_DELIVERY_BACKOFF_MAX", 3600.0, minimum=0)
if ALERTS_DELIVERY_BACKOFF_MAX > CELERY_BROKER_VISIBILITY_TIMEOUT / 2:
    raise ImproperlyConfigured(
        "ALERTS_DELIVERY_BACKOFF_MAX must be at most half of CELERY_BROKER_VISIBILITY_TIMEOUT "
        f"({CELERY_BROKER_VISIBILITY_TIMEOUT / 2:.0f} s)"
    )
# A worker's claim on a delivery it is sending; a delivery still "sending" after it (a killed
# worker) may be claimed again. So it must outlast the longest a send can run — the
# alerts.deliver task's hard time limit, when the pool kills it — by a margin (the pool notices
# an overrun within about a second; the rest covers clocks differing between workers): else a
# slow but alive send is claimed by a second worker and the message goes out twice.
ALERTS_DELIVERY_LEASE = env_int("ALERTS_DELIVERY_LEASE", 120, minimum=10)
ALERTS_DELIVERY_LEASE_MARGIN = 5
# alerts.deliver's time limits: the soft one ends a send with an error (retried), the hard one
# kills it. By default 90 s and 60 s, lowered to fit a shorter lease.
ALERTS_DELIVERY_TIME_LIMIT = env_int(
    "ALERTS_DELIVERY_TIME_LIMIT",
    min(90, ALERTS_DELIVERY_LEASE - ALERTS_DELIVERY_LEASE_MARGIN),
    minimum=2,
)
ALERTS_DELIVERY_SOFT_TIME_LIMIT = env_int(
    "ALERTS_DELIVERY_SOFT_TIME_LIMIT", ALERTS_DELIVERY_TIME_LIMIT * 2 // 3, minimum=1
)
if ALERTS_DELIVERY_TIME_LIMIT + ALERTS_DELIVERY_LEASE_MARGIN > ALERTS_DELIVERY_LEASE:
    raise ImproperlyConfigured(
        f"ALERTS_DELIVERY_LEASE ({ALERTS_DELIVERY_LEASE} s) must be at least "
        f"ALERTS_DELIVERY_TIME_LIMIT ({ALERTS_DELIVERY_TIME_LIMIT} s, the hard time limit of "
        f"alerts.deliver) + {ALERTS_DELIVERY_LEASE_MARGIN} s: a lease that ends while a send may "
        "still run lets a second worker send the same message again. Raise "
        "ALERTS_DELIVERY_LEASE or lower ALERTS_DELIVERY_TIME_LIMIT."
    )
if ALERTS_DELIVERY_SOFT_TIME_LIMIT >= ALERTS_DELIVERY_TIME_LIMIT:
    raise ImproperlyConfigured(
        f"ALERTS_DELIVERY_SOFT_TIME_LIMIT ({ALERTS_DELIVERY_SOFT_TIME_LIMIT} s) must be less "
        f"than ALERTS_DELIVERY_TIME_LIMIT ({ALERTS_DELIVERY_TIME_LIMIT} s)"
    )
# The sweep re-enqueues pending deliveries overdue by this many seconds (a lost message).
ALERTS_SWEEP_GRACE = env_int("ALERTS_SWEEP_GRACE", 300, minimum=0)
ALERTS_WEBHOOK_TIMEOUT = env_float("ALERTS_WEBHOOK_TIMEOUT", 10.0, minimum=0.1)
ALERTS_WEBHOOK_MAX_RESPONSE_BYTES = env_int("ALERTS_WEBHOOK_MAX_RESPONSE_BYTES", 65536, minimum=0)
# Trades listed in one message; more are counted with a link to the site.
ALERTS_MAX_TRADES_PER_MESSAGE = env_int("ALERTS_MAX_TRADES_PER_MESSAGE", 200, minimum=1)
# Subscriptions one user may have (the subscription pages refuse more, saying so).
ALERTS_MAX_SUBSCRIPTIONS_PER_USER = env_int("ALERTS_MAX_SUBSCRIPTIONS_PER_USER", 50, minimum=1)

# --- Monitoring and operations (monitoring/; DESIGN §3, §5) -------------------------------

# Health checks (monitoring/health.py). Defaults are the operating limits of the product plan.
HEALTH_PROBE_TIMEOUT = env_float("HEALTH_PROBE_TIMEOUT", 2.0, minimum=0.1)
# Seconds the database check may take: connect (PostgreSQL connect_timeout, whole seconds),
# statement_timeout, and a deadline over both, so a database that hangs cannot hang /health/.
HEALTH_DATABASE_TIMEOUT = env_float("HEALTH_DATABASE_TIMEOUT", 3.0, minimum=0.1)
HEALTH_WORKER_DOWN_AFTER = env_int("HEALTH_WORKER_DOWN_AFTER", 300, minimum=1)
HEALTH_BEAT_STALE_AFTER = env_int("HEALTH_BEAT_STALE_AFTER", 120, minimum=1)
HEALTH_QUEUE_BACKLOG_MAX = env_int("HEALTH_QUEUE_BACKLOG_MAX", 100, minimum=0)
HEALTH_FAILURE_RATE_MAX = env_float("HEALTH_FAILURE_RATE_MAX", 10.0, minimum=0)
HEALTH_FAILURE_RATE_MIN_SAMPLE = env_int("HEALTH_FAILURE_RATE_MIN_SAMPLE", 20, minimum=1)
HEALTH_MEMORY_MAX_PERCENT = env_float("HEALTH_MEMORY_MAX_PERCENT", 80.0, minimum=0)
HEALTH_DISK_FREE_MIN_PERCENT = env_float("HEALTH_DISK_FREE_MIN_PERCENT", 10.0, minimum=0)
HEALTH_SCHEDULE_GRACE = env_int("HEALTH_SCHEDULE_GRACE", 300, minimum=0)
# Alert deliveries (the "deliveries" check): unhealthy when any is overdue by more than
# this many seconds (pending, or sending past its lease); degraded when at least
# HEALTH_DELIVERY_FAILURE_MIN failed for good in the last hour and they are at least
# HEALTH_DELIVERY_FAILURE_RATE_MAX % of the deliveries finished in it.
HEALTH_DELIVERY_OVERDUE_AFTER = env_int("HEALTH_DELIVERY_OVERDUE_AFTER", 900, minimum=1)
HEALTH_DELIVERY_FAILURE_RATE_MAX = env_float("HEALTH_DELIVERY_FAILURE_RATE_MAX", 50.0, minimum=0)
HEALTH_DELIVERY_FAILURE_MIN = env_int("HEALTH_DELIVERY_FAILURE_MIN", 5, minimum=1)

# Operator alerts for incidents (monitoring/incidents.py): email and an optional webhook.
# Empty means the ADMINS addresses.
OPS_ALERT_EMAILS = env_list("OPS_ALERT_EMAILS") or [address for _name, address in ADMINS]
OPS_ALERT_WEBHOOK_URL = env_str("OPS_ALERT_WEBHOOK_URL")
OPS_ALERT_TIMEOUT = env_float("OPS_ALERT_TIMEOUT", 10.0, minimum=0.1)
# An open incident no health check has seen for this long is resolved by daily maintenance.
INCIDENT_STALE_AFTER_HOURS = env_int("INCIDENT_STALE_AFTER_HOURS", 24, minimum=1)
# Hold-down (monitoring/incidents.py): a problem opens an incident once it has failed this
# many health runs in a row, or for this many seconds, whichever comes first; with the
# 5-minute system-health-check that is the second failing run. An open incident resolves
# once its check has passed for MONITORING_INCIDENT_RESOLVE_AFTER seconds (the second
# passing run); a failure in between keeps it open with no new notice.
MONITORING_INCIDENT_OPEN_AFTER_RUNS = env_int("MONITORING_INCIDENT_OPEN_AFTER_RUNS", 2, minimum=1)
MONITORING_INCIDENT_OPEN_AFTER = env_int("MONITORING_INCIDENT_OPEN_AFTER", 600, minimum=0)
MONITORING_INCIDENT_RESOLVE_AFTER = env_int("MONITORING_INCIDENT_RESOLVE_AFTER", 240, minimum=0)
# Flapping: a problem also opens an incident once it has failed in at least
# MONITORING_INCIDENT_FLAP_FAILURES of the last MONITORING_INCIDENT_FLAP_RUNS health runs of
# its check, passes in between or not (0 failures turns this rule off). Such an incident
# resolves only once its check has passed for MONITORING_INCIDENT_RESOLVE_AFTER seconds and
# in each of the last MONITORING_INCIDENT_FLAP_RUNS runs, so it does not resolve and reopen
# while the check keeps flapping. At most 60 runs are remembered.
MONITORING_INCIDENT_FLAP_FAILURES = env_int("MONITORING_INCIDENT_FLAP_FAILURES", 3, minimum=0)
MONITORING_INCIDENT_FLAP_RUNS = env_int("MONITORING_INCIDENT_FLAP_RUNS", 6, minimum=1)
if MONITORING_INCIDENT_FLAP_RUNS > 60:
    raise ImproperlyConfigured(
        f"MONITORING_INCIDENT_FLAP_RUNS={MONITORING_INCIDENT_FLAP_RUNS} must be at most 60 "
        "(the health runs remembered per problem)"
    )
if MONITORING_INCIDENT_FLAP_FAILURES > MONITORING_INCIDENT_FLAP_RUNS:
    raise ImproperlyConfigured(
        f"MONITORING_INCIDENT_FLAP_FAILURES={MONITORING_INCIDENT_FLAP_FAILURES} must be at most "
        f"MONITORING_INCIDENT_FLAP_RUNS={MONITORING_INCIDENT_FLAP_RUNS} (failures counted "
        "among that many health runs)"
    )

# Single beat (capitolscope/beat.py): a Redis lock the leader renews on every tick.
BEAT_LEADER_LOCK_TTL = env_int("BEAT_LEADER_LOCK_TTL", 20, minimum=2)
BEAT_HEARTBEAT_INTERVAL = env_int("BEAT_HEARTBEAT_INTERVAL", 5, minimum=1)

# Retention (monitoring/maintenance.py); task results use TASK_RESULT_RETENTION_DAYS.
NOTIFICATION_RETENTION_DAYS = env_int("NOTIFICATION_RETENTION_DAYS", 90, minimum=1)
INGESTION_RETENTION_DAYS = env_int("INGESTION_RETENTION_DAYS", 180, minimum=1)
INCIDENT_RETENTION_DAYS = env_int("INCIDENT_RETENTION_DAYS", 180, minimum=1)
DEADLETTER_RETENTION_DAYS = env_int("DEADLETTER_RETENTION_DAYS", 90, minimum=1)
HEARTBEAT_RETENTION_DAYS = env_int("HEARTBEAT_RETENTION_DAYS", 7, minimum=1)
CLEANUP_BATCH_SIZE = env_int("CLEANUP_BATCH_SIZE", 5000, minimum=1)
CLEANUP_BATCH_PAUSE = env_float("CLEANUP_BATCH_PAUSE", 0.05, minimum=0)

# JSON API and /metrics (monitoring/api.py, monitoring/metrics.py).
# Job triggers allowed per token (or per staff user) and window: N/s, N/m, N/h or N/d.
API_TRIGGER_RATE = env_str("API_TRIGGER_RATE", "10/m")
_rate_count, _, _rate_unit = API_TRIGGER_RATE.partition("/")
if not (_rate_count.isdigit() and int(_rate_count) >= 1 and _rate_unit in {"s", "m", "h", "d"}):
    raise ImproperlyConfigured(
        f"API_TRIGGER_RATE={API_TRIGGER_RATE!r} must read N/s, N/m, N/h or N/d (e.g. 10/m)"
    )
# Seconds GET /api/workers/ and the task lists wait for workers' replies to a control ping or
# inspect (/metrics never pings the workers: it reads the workers-seen record).
API_CONTROL_TIMEOUT = env_float("API_CONTROL_TIMEOUT", 1.5, minimum=0.1)
# /metrics counts task results finished within this many hours (capitolscope_tasks_total).
METRICS_TASK_WINDOW_HOURS = env_int("METRICS_TASK_WINDOW_HOURS", 24, minimum=1)

# --- Logging ------------------------------------------------------------------------------

LOG_LEVEL = env_choice(
    "LOG_LEVEL", "INFO", choices=("debug", "info", "warning", "error", "critical")
).upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "level": "ERROR",
            "filters": ["require_debug_false"],
        },
    },
    "filters": {"require_debug_false": {"()": "django.utils.log.RequireDebugFalse"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.request": {"handlers": ["console", "mail_admins"], "level": "ERROR"},
    },
}
