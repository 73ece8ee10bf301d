"""Settings shared by every environment. Environment-specific files override these."""

import datetime
from pathlib import Path

import environ
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

# The project's apps come first: their translations then win over Django's own for the same
# words (the admin's 注销 would otherwise replace our 退出登录).
INSTALLED_APPS = [
    "core",
    "accounts",
    "policies",
    "households",
    "loans",
    "subsidies",
    "riskfund",
    "archives",
    "demo",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Security mechanisms come from maintained libraries (issue 10): login throttling and lockout,
    # expiring hashed API tokens, database triggers, Content-Security-Policy.
    "axes",
    "knox",
    "pgtrigger",
    "csp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.AuditAddressMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "core.middleware.DefaultLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Content-Security-Policy header on every response (issue 10; CONTENT_SECURITY_POLICY below).
    "csp.middleware.CSPMiddleware",
    # Authentication (issue 10): the absolute session lifetime, after the messages it uses.
    "accounts.middleware.SessionLifetimeMiddleware",
    # The Chinese 404/403/500 pages even with DEBUG on, when FRIENDLY_ERROR_PAGES (issue 14).
    "core.middleware.FriendlyErrorPagesMiddleware",
    # Last, as django-axes requires: it turns a lockout flagged during the view into its page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
# The project's 404/403/500 pages instead of Django's technical pages when DEBUG is on (the demo
# turns it on; with DEBUG off Django's own handlers render the same templates).
FRIENDLY_ERROR_PAGES = env.bool("DJANGO_FRIENDLY_ERROR_PAGES", default=False)
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
                "django.template.context_processors.i18n",
                "config.context_processors.navigation",
                "riskfund.context_processors.headroom",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/fupin")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

# --- Authentication (issue 10, ASVS V6) -------------------------------------------------------
# django-axes checks every login (page, API token, admin) before the model backend runs.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Five failures for one account, or from one address, lock that account or address for 30
# minutes. A failure during the lockout does not extend it, so the time the message states holds.
# An administrator unlocks early in the admin site (Axes › access attempts: delete the rows) or
# with `manage.py axes_reset_username <username>` / `axes_reset_ip <address>`.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "accounts.views.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
# No banner on every start of a command or worker; failures and lockouts are still logged.
AXES_VERBOSE = False
# The address is the audit log's (core.middleware.client_address, TRUSTED_PROXY_COUNT): a
# client cannot dodge the per-address count by writing its own X-Forwarded-For.
AXES_CLIENT_IP_CALLABLE = "core.middleware.client_address"
# A county office PC is shared: a session ends after 30 minutes without a request, and at the
# latest 10 hours (a working day) after the login (accounts.middleware.SessionLifetimeMiddleware).
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_MINUTES", default=30) * 60
SESSION_REFRESH_AFTER = datetime.timedelta(minutes=1)
SESSION_MAX_LIFETIME = datetime.timedelta(hours=env.int("SESSION_MAX_HOURS", default=10))
# API tokens (django-rest-knox): stored as SHA-512 digests, valid 10 hours, revoked by logout,
# logout-all and a password change. Clients keep sending `Authorization: Token <token>`.
REST_KNOX = {
    "TOKEN_TTL": datetime.timedelta(hours=env.int("API_TOKEN_HOURS", default=10)),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}
# --- end of authentication -------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default=str(BASE_DIR / "media"))

# --- Upload limits (issue 10, ASVS V5) -----------------------------------------------------------
# What a request may carry besides files (form fields, a JSON body read through request.body):
# our forms are a few KB, so Django's 2.5 MB stays.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# An uploaded file above this goes to a temporary file on disk instead of memory, so ten photos or
# a 10 MB spreadsheet never sit in a worker's memory whole while the request is read.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# At most core.uploads.PHOTO_MAX_COUNT photos are taken at once; a request with more files than
# this is refused (400) before any of them is read.
DATA_UPLOAD_MAX_NUMBER_FILES = 20
# The sizes of the files themselves are core/uploads.py's (photos 10 MB each, imports 10 MB). The
# reverse proxy in front must refuse anything larger than the largest request we take, ten 10 MB
# photos and a form: nginx `client_max_body_size 110m;` (README, production).
# --- end of upload limits --------------------------------------------------------------------------

# ID numbers (PIPL art.28): Fernet keys, newest first. Older keys stay listed until
# `manage.py rotate_id_keys` has re-encrypted every row with the newest one.
ID_NUMBER_KEYS = env.list("ID_NUMBER_KEYS", default=[])
# Keyed hash for uniqueness and exact search; never derived from the encryption keys.
ID_NUMBER_HASH_KEY = env.str("ID_NUMBER_HASH_KEY", default="")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "knox.auth.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "core.api.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    # The schema documents every operation's errors in API.md's shape (issue 10, core/api_schema.py).
    "DEFAULT_SCHEMA_CLASS": "core.api_schema.AutoSchema",
    "DATE_FORMAT": "%Y-%m-%d",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Authentication (issue 10, ASVS V6): see the block below for the rates.
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/minute"),
        "user": env.str("API_THROTTLE_USER", default="1200/minute"),
        "auth": env.str("API_THROTTLE_AUTH", default="10/minute"),
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "扶贫小额信贷管理系统 API",
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema lists every operation and field (issue 10): /api/schema/, /api/docs/ and
    # /api/redoc/ answer only a logged-in user (a session or an API token), like the API itself.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RateBasisEnum": "policies.models.PolicyProfile.RateBasis",
        "ApplicationStateEnum": "loans.workflow.State",
        "LoanStateEnum": "loans.models.Loan.State",
        "PublicityLevelEnum": "loans.models.PublicityNotice.Level",
        "ClaimStateEnum": "riskfund.workflow.State",
        "RemainderToEnum": "riskfund.models.CompensationClaim.RemainderTo",
    },
}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/0")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="redis://127.0.0.1:6379/0")
CELERY_TIMEZONE = TIME_ZONE
# Loans per subsidy compute task (one chunk of a batch), and the queue those tasks go to (None:
# the default queue; the tests point it at their own worker's queue).
SUBSIDY_CHUNK_LOANS = env.int("SUBSIDY_CHUNK_LOANS", default=20000)
SUBSIDY_QUEUE = env.str("SUBSIDY_QUEUE", default=None)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULE = {
    # Shortly after midnight Beijing time: the previous day was the last day of due notices.
    "end-due-publicity": {
        "task": "loans.end_due_publicity",
        "schedule": crontab(hour=0, minute=10),
    },
    # After midnight Beijing time: yesterday's unpaid settlement days and maturities count from today.
    "refresh-overdue": {
        "task": "loans.refresh_overdue",
        "schedule": crontab(hour=0, minute=30),
    },
    # Daily: from the first working day after a quarter's end, each county's subsidy batch.
    "subsidy-quarterly-batches": {
        "task": "subsidies.ensure_quarterly_batches",
        "schedule": crontab(hour=1, minute=0),
    },
    # A batch whose computation stalled (a worker died) gets its unfinished chunks queued again.
    "subsidy-resume-stalled": {
        "task": "subsidies.resume_stalled",
        "schedule": crontab(minute="*/10"),
    },
    # After the overdue refresh: every open loan has its next post-loan check.
    "schedule-checks": {
        "task": "loans.schedule_checks",
        "schedule": crontab(hour=0, minute=45),
    },
    # A dossier batch whose worker died gets queued again: it prints only the households pending.
    "dossier-resume-stalled": {
        "task": "archives.resume_stalled_dossiers",
        "schedule": crontab(minute="*/10"),
    },
}
# The queue dossier batches go to (None: Celery's default queue).
DOSSIER_QUEUE = env.str("DOSSIER_QUEUE", default=None)
# How many task messages a batch sends: as many workers share its households.
DOSSIER_PARALLEL = env.int("DOSSIER_PARALLEL", default=2)

# Audit log (issue 10): where a change came from. 0 (the default): the client is REMOTE_ADDR and
# X-Forwarded-For is ignored, since anyone can send it. Behind N reverse proxies of our own, set N:
# the address is the N-th entry from the right of X-Forwarded-For (the one our outermost proxy saw).
TRUSTED_PROXY_COUNT = env.int("DJANGO_TRUSTED_PROXY_COUNT", default=0)

# --- Content-Security-Policy (issue 10, django-csp) ---------------------------------------------
# Scripts and styles come only from our own static files: no inline <script>, no on*= handler, no
# style attribute or <style> block (tests/security/test_csp.py scans the templates and drives the
# pages in Chromium). Nothing loads from another site; the app works offline. Images may be
# data: URIs (Swagger UI's icons). The Redoc page alone also allows inline styles and a blob
# worker, which Redoc makes at run time (config/urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}
# --- end of Content-Security-Policy -----------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "INFO"},
}
