"""Settings for ARKA Portal, read from the environment through django-environ.

With no environment at all the portal runs locally on SQLite under var/ and a Celery broker kept in
files under var/celery, so `make run` needs no server. Production sets DATABASE_URL,
CELERY_BROKER_URL, SECRET_KEY, ALLOWED_HOSTS and EMAIL_URL.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from postmortems.schedule import weekly_review_crontab

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("ARKA_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env(
    DEBUG=(bool, False),
    ALLOWED_HOSTS=(list, ["127.0.0.1", "localhost"]),
    CSRF_TRUSTED_ORIGINS=(list, []),
)

DEBUG = env("DEBUG")
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is missing: set SECRET_KEY to a long random string, "
            "or set DEBUG=true for local development."
        )
    SECRET_KEY = "insecure-local-development-key-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env("CSRF_TRUSTED_ORIGINS")
# The absolute address of the portal, used in links sent by email, Slack and pagers.
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_celery_beat",
    "django_filters",
    "django_tables2",
    "django_htmx",
    "incidents",
    "oncall",
    "postmortems",
    "notifications",
    "security",
    "runbooks",
    "paging",
    "communications",
    "chatops",
    "alerts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "alerts.middleware.WebhookMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "oncall.middleware.ViewerTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "arka_portal.urls"
WSGI_APPLICATION = "arka_portal.wsgi.application"

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

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'arka.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the Celery worker and beat share one SQLite file: wait for locks instead of
    # failing, and take the write lock at the start of each transaction to avoid upgrade deadlocks.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "incidents:dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
# Every time is stored in UTC; pages show it in the viewer's zone from their profile.
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="ARKA Portal <arka-portal@localhost>")

# HTTPS: on by default outside DEBUG; a deployment behind a TLS proxy sets SECURE_PROXY_SSL_HEADER.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Celery. Without CELERY_BROKER_URL the broker is a folder, so no server is needed locally.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "celery"
    for _sub in ("queue", "processed"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# The periodic tasks, written to django-celery-beat's tables by `load_arka_policy` so an admin
# can change them later. Each entry maps a task name to {"schedule": seconds between runs, or a
# dict of crontab fields such as {"minute": "0", "hour": "8", "day_of_week": "1"}, "why": reason}.
CELERY_BEAT_DEFAULTS = {
    "alerts.delivery_sweep_task": {
        "schedule": 60,
        "why": "Queue alert deliveries again that are still pending a minute after their request, "
        "because their task was lost or failed.",
    },
    "notifications.message_sweep": {
        "schedule": 30,
        "why": "Send retries when due, and messages whose delivery task was lost.",
    },
    "security.obligation_reminders_sweep_task": {
        "schedule": 60,
        "why": "Remind of regulatory notice deadlines at their reminder points and when overdue; "
        "each reminder is sent once, so a minute late is the worst case.",
    },
    "oncall.shift_notice_sweep": {
        "schedule": 60,
        "why": "Tell people at each on-call handoff and before their shifts start, once each.",
    },
    "paging.escalation_sweep": {
        "schedule": 30,
        "why": "Page the escalation steps that fell due and record missed response deadlines.",
    },
    "communications.cadence_sweep": {
        "schedule": 60,
        "why": "Remind the communications lead before a public update is due, when it is "
        "overdue, and escalate while it stays overdue.",
    },
    "communications.leadership_summary_sweep": {
        "schedule": 60,
        "why": "Post the leadership summary of each incident whose summary is due.",
    },
    "communications.enterprise_notice_sweep": {
        "schedule": 120,
        "why": "Send enterprise customer emails whose delivery task was lost.",
    },
    "chatops.channel_operation_sweep": {
        "schedule": 30,
        "why": "Run Slack channel operations whose retry is due or whose task was lost.",
    },
    "chatops.slack_request_prune": {
        "schedule": 3600,
        "why": "Delete replay-guard rows of Slack requests too old to be accepted again.",
    },
    "postmortems.weekly_review_task": {
        "schedule": weekly_review_crontab(),
        "why": "Start the week's review of open action items and queue the digests; the "
        "default day and time come from the policy file.",
    },
    "postmortems.postmortem_deadline_sweep_task": {
        "schedule": 300,
        "why": "Remind post-mortem authors once when due soon and once when overdue.",
    },
}
# Outbound channels. A channel whose setting is empty is recorded as skipped, never dropped.
SLACK_WEBHOOK_URL = env.str("SLACK_WEBHOOK_URL", default="")
PAGERDUTY_ROUTING_KEY = env.str("PAGERDUTY_ROUTING_KEY", default="")
PAGERDUTY_EVENTS_URL = env.str(
    "PAGERDUTY_EVENTS_URL", default="https://events.pagerduty.com/v2/enqueue"
)
SMS_PROVIDER_URL = env.str("SMS_PROVIDER_URL", default="")
SMS_PROVIDER_TOKEN = env.str("SMS_PROVIDER_TOKEN", default="")
PHONE_PROVIDER_URL = env.str("PHONE_PROVIDER_URL", default="")
PHONE_PROVIDER_TOKEN = env.str("PHONE_PROVIDER_TOKEN", default="")
# Seconds an acknowledgement link in a page stays valid.
PAGING_ACKNOWLEDGE_LINK_MAX_AGE = env.int("PAGING_ACKNOWLEDGE_LINK_MAX_AGE", default=24 * 60 * 60)
# Shared secret of the PagerDuty v3 webhook subscription; empty turns the webhook off.
PAGERDUTY_WEBHOOK_SECRET = env.str("PAGERDUTY_WEBHOOK_SECRET", default="")
# Slack app for the /incident command and incident channels. Without SLACK_SIGNING_SECRET the
# command endpoint rejects every request; without SLACK_BOT_TOKEN channel operations are skipped.
SLACK_BOT_TOKEN = env.str("SLACK_BOT_TOKEN", default="")
SLACK_SIGNING_SECRET = env.str("SLACK_SIGNING_SECRET", default="")
SLACK_API_BASE_URL = env.str("SLACK_API_BASE_URL", default="https://slack.com/api/")
# Tries per Slack channel operation, and the first retry delay in seconds, doubled on each retry.
# A rate-limited call waits for Slack's Retry-After instead.
CHATOPS_MAX_ATTEMPTS = env.int("CHATOPS_MAX_ATTEMPTS", default=5)
CHATOPS_RETRY_BASE_SECONDS = env.int("CHATOPS_RETRY_BASE_SECONDS", default=30)
# Delivery tries per message, and the first retry delay in seconds, doubled on each retry.
NOTIFICATION_MAX_ATTEMPTS = env.int("NOTIFICATION_MAX_ATTEMPTS", default=5)
NOTIFICATION_RETRY_BASE_SECONDS = env.int("NOTIFICATION_RETRY_BASE_SECONDS", default=30)

# The public status page's data is cached this many seconds; a public update clears it at once.
STATUS_PAGE_CACHE_SECONDS = env.int("STATUS_PAGE_CACHE_SECONDS", default=30)
# The name the public status page and its feed go by.
STATUS_PAGE_TITLE = env.str("STATUS_PAGE_TITLE", default="ARKA Engine status")

# The Redis server of the tests that need one. The portal itself uses Redis only as its broker.
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")

# Alert webhooks. An SNS SubscribeURL is fetched only when the whole address matches this pattern
# (by default https on a host under amazonaws.com), so a forged SubscriptionConfirmation cannot
# make the portal request an arbitrary address.
ALERTS_SNS_SUBSCRIBE_URL_PATTERN = env.str(
    "ALERTS_SNS_SUBSCRIBE_URL_PATTERN", default=r"^https://[a-z0-9.-]+\.amazonaws\.com/"
)
# Seconds in the Retry-After header of a 503, sent when an integration is past its storm limit
# or the database is unavailable.
ALERTS_RETRY_AFTER_SECONDS = env.int("ALERTS_RETRY_AFTER_SECONDS", default=30)
# Seconds a batch task waits before it processes the deliveries it was queued for. Deliveries
# that arrive meanwhile join the same batch, so a burst costs a few tasks instead of one each.
ALERTS_BATCH_DELAY_SECONDS = env.float("ALERTS_BATCH_DELAY_SECONDS", default=0.2)

DJANGO_TABLES2_TEMPLATE = "django_tables2/table.html"
DJANGO_TABLES2_TABLE_ATTRS = {"class": "data-table"}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own console handler would print each record a second time beside the root's.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "WARNING"},
    },
}
