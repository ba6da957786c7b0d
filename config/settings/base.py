"""Settings shared by every environment.

Every external service has an embedded default (SQLite, a filesystem Celery broker, the
database cache, local media, console email) and a production part chosen by environment
variables. The README lists every variable.
"""

import datetime
import math
import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab  # noqa: F401  (used by the app schedules merged below)
from csp import constants as csp

from accounts.schedule import BEAT_SCHEDULE as ACCOUNTS_BEAT_SCHEDULE
from analytics.schedule import BEAT_SCHEDULE as ANALYTICS_BEAT_SCHEDULE
from campaigns.schedule import BEAT_SCHEDULE as CAMPAIGNS_BEAT_SCHEDULE
from engagement.catalogue import MAX_PROPERTIES_BYTES
from engagement.schedule import BEAT_SCHEDULE as ENGAGEMENT_BEAT_SCHEDULE
from gamification.schedule import BEAT_SCHEDULE as GAMIFICATION_BEAT_SCHEDULE
from interventions.schedule import BEAT_SCHEDULE as INTERVENTIONS_BEAT_SCHEDULE
from video.schedule import BEAT_SCHEDULE as VIDEO_BEAT_SCHEDULE

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("STRIDE_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    """Read a yes/no environment variable ("1", "true", "yes", "on" are true)."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    """Read a comma-separated environment variable into a list of non-empty items."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SECRET_KEY = os.environ.get("SECRET_KEY", "")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "csp",
    "accounts",
    "learning",
    "gamification",
    "engagement",
    "interventions",
    "campaigns",
    "video",
    "analytics",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "core.middleware.DatabaseUnavailableMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
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
                "interventions.context_processors.unread_messages",
            ],
        },
    },
]

# Database: SQLite under var/ unless DATABASE_URL names another (PostgreSQL in production).
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'stride.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes; the timeout rides out short locks.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
# A database that accepts connections but never answers, or a query stuck behind a lock, must
# not hold a web worker until it is killed: give up connecting after DB_CONNECT_TIMEOUT seconds
# and cancel any statement after DB_STATEMENT_TIMEOUT (PostgreSQL units: "20s", "0" = never).
# Long jobs (scoring, training, imports, migrations, Celery tasks) raise the limit to
# DB_JOB_STATEMENT_TIMEOUT for their own statements (core.statement_timeout).
DB_CONNECT_TIMEOUT = int(os.environ.get("DB_CONNECT_TIMEOUT", "5"))
DB_STATEMENT_TIMEOUT = os.environ.get("DB_STATEMENT_TIMEOUT", "20s")
DB_JOB_STATEMENT_TIMEOUT = os.environ.get("DB_JOB_STATEMENT_TIMEOUT", "30min")
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _db_options = DATABASES["default"].setdefault("OPTIONS", {})
    _db_options.setdefault("connect_timeout", DB_CONNECT_TIMEOUT)
    _db_options["options"] = " ".join(
        filter(None, [_db_options.get("options"), f"-c statement_timeout={DB_STATEMENT_TIMEOUT}"])
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
# django-axes first: it refuses a locked-out (email, IP) pair before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "accounts:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sign-in lockout (django-axes), on the site's and the admin's login alike: after
# LOGIN_FAILURE_LIMIT wrong passwords for one email from one IP address, that pair is refused
# (even with the right password) until LOGIN_COOLOFF_MINUTES have passed without another try.
# Other people, and the same person from elsewhere, can still sign in. API keys are not
# passwords and are not affected. Staff unlock someone early in the admin (Access attempts)
# or with `manage.py axes_reset_username EMAIL`.
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = datetime.timedelta(minutes=int(os.environ.get("LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"  # both login forms post the email as "username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Static files: our own, plus front-end libraries installed by npm and plotly.js from the
# plotly package, all served by WhiteNoise; never a CDN.
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns about a missing folder before collectstatic
STATICFILES_DIRS = [BASE_DIR / "static"]
for _prefix, _folder in (
    ("vendor/htmx", BASE_DIR / "node_modules" / "htmx.org" / "dist"),
    ("vendor/hls", BASE_DIR / "node_modules" / "hls.js" / "dist"),
):
    if _folder.is_dir():
        STATICFILES_DIRS.append((_prefix, _folder))
try:
    import plotly

    STATICFILES_DIRS.append(("vendor/plotly", Path(plotly.__file__).parent / "package_data"))
except ImportError:  # pragma: no cover - plotly is a hard dependency; keep settings importable
    pass

# Content-Security-Policy (django-csp) in every environment, so that the tests exercise it.
# Scripts only from our own files, or inline with the request's nonce (`request.csp_nonce`);
# never 'unsafe-inline' or 'unsafe-eval' for scripts. Styles may be inline: Plotly, htmx and
# Redoc insert <style> elements and style attributes at run time; injected styles cannot run
# code, injected scripts can.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF, csp.NONCE],
        "style-src": [csp.SELF, csp.UNSAFE_INLINE],
        "img-src": [csp.SELF, "data:"],  # Swagger UI and Redoc draw their icons as data: URIs
        "connect-src": [csp.SELF],
        # hls.js feeds the <video> element through Media Source Extensions: a blob: URL.
        "media-src": [csp.SELF, "blob:"],
        "worker-src": [csp.SELF, "blob:"],  # Redoc runs its search index in a blob: worker
        "object-src": [csp.NONE],
        "base-uri": [csp.SELF],
        "form-action": [csp.SELF],
        "frame-ancestors": [csp.NONE],
    }
}

MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
if os.environ.get("AWS_STORAGE_BUCKET_NAME"):
    STORAGES["default"] = {"BACKEND": "storages.backends.s3.S3Storage"}
    AWS_STORAGE_BUCKET_NAME = os.environ["AWS_STORAGE_BUCKET_NAME"]
    AWS_S3_ENDPOINT_URL = os.environ.get("AWS_S3_ENDPOINT_URL") or None
    AWS_S3_REGION_NAME = os.environ.get("AWS_S3_REGION_NAME") or None
    AWS_DEFAULT_ACL = None
    AWS_QUERYSTRING_AUTH = True

# Cache (throttling, leaderboards later): Redis when REDIS_URL is set, else the database.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "stride"),
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "stride_cache",
        }
    }

# Email: the console by default; any anymail ESP through EMAIL_BACKEND and its keys.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Stride <noreply@stride.local>")
ANYMAIL = {
    key.removeprefix("ANYMAIL_"): value
    for key, value in os.environ.items()
    if key.startswith("ANYMAIL_")
}

# Celery: kombu's filesystem transport under var/ unless CELERY_BROKER_URL names a broker.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_QUEUE_DIR = VAR_DIR / "celery" / "queue"
CELERY_BROKER_PROCESSED_DIR = VAR_DIR / "celery" / "processed"
CELERY_BROKER_CONTROL_DIR = VAR_DIR / "celery" / "control"
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The filesystem transport needs one folder for in and out, and it must exist first.
    for _folder in (
        CELERY_BROKER_QUEUE_DIR,
        CELERY_BROKER_PROCESSED_DIR,
        CELERY_BROKER_CONTROL_DIR,
    ):
        _folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_QUEUE_DIR),
        "data_folder_out": str(CELERY_BROKER_QUEUE_DIR),
        "processed_folder": str(CELERY_BROKER_PROCESSED_DIR),
        "control_folder": str(CELERY_BROKER_CONTROL_DIR),
        "store_processed": False,
    }
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or None
CELERY_TASK_IGNORE_RESULT = CELERY_RESULT_BACKEND is None
CELERY_TASK_ACKS_LATE = True  # at-least-once: a task killed mid-way runs again
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    **ACCOUNTS_BEAT_SCHEDULE,
    **ANALYTICS_BEAT_SCHEDULE,
    **CAMPAIGNS_BEAT_SCHEDULE,
    **ENGAGEMENT_BEAT_SCHEDULE,
    **GAMIFICATION_BEAT_SCHEDULE,
    **INTERVENTIONS_BEAT_SCHEDULE,
    **VIDEO_BEAT_SCHEDULE,
}

# Django REST framework: one error shape, key or session auth, scoped permissions, throttles.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.HasScope"],
    "DEFAULT_THROTTLE_CLASSES": ["accounts.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": os.environ.get("API_THROTTLE_RATE", "1200/min")},
    "DEFAULT_PAGINATION_CLASS": "core.api.StridePagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # One JSON parser for every view, bounded in depth (core.parsers); forms stay for the
    # browsable API.
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.StrideJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "core.schema.StrideAutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Stride API",
    "DESCRIPTION": (
        "Sync users, courses, lessons and enrollments; send behaviour events; read scores. "
        "Authenticate with `Authorization: Bearer <key>`; each key carries scopes."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    # Swagger UI would show a badge from validator.swagger.io on any host but localhost.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Tags (and operation ids) by resource: /api/v1/users/ is tagged "users".
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    # The API speaks JSON; form encodings exist only for the browsable API's own forms.
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    # Error answers of every operation (core.schema) and the components they refer to.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.schema.add_error_components",
    ],
    # Several models have a `status` with different choices; name each enum after its model.
    "ENUM_NAME_OVERRIDES": {
        "AlertStatusEnum": "engagement.models.Alert.Status",
        "EnrollmentStatusEnum": "learning.models.Enrollment.Status",
        "LiveSessionStatusEnum": "learning.models.LiveSession.Status",
        "LiveRegistrationStatusEnum": "learning.models.LiveSessionRegistration.Status",
        "ChannelEnum": "interventions.models.Channel",
        "CampaignKindEnum": "campaigns.models.Campaign.Kind",
        "ExperimentKindEnum": "campaigns.models.Experiment.Kind",
    },
}

# Stride's own knobs.
STRIDE_BULK_MAX_ITEMS = int(os.environ.get("STRIDE_BULK_MAX_ITEMS", "5000"))
STRIDE_DEMO_ADMIN_EMAIL = os.environ.get("STRIDE_DEMO_ADMIN_EMAIL", "admin@stride.local")
# Follow-ups of ingestion owned by apps above engagement, called in order with each stored
# batch of events (see engagement.services.ingestion). Later apps append theirs.
STRIDE_EVENT_HANDLERS: list[str] = ["interventions.services.conversions.conversions_record"]
# Follow-ups of a finished scoring run (e.g. risk-triggered interventions), called with the run.
STRIDE_SCORING_HANDLERS: list[str] = ["interventions.services.rules.rules_apply_to_run"]
STRIDE_EVENTS_MAX_BATCH = int(os.environ.get("STRIDE_EVENTS_MAX_BATCH", "1000"))
# The largest request body Django reads; a larger one gets a JSON 413 (`too_large`) on the API.
# It follows from the two limits above, so that the largest request the README allows fits:
# STRIDE_EVENTS_MAX_BATCH events with MAX_PROPERTIES_BYTES of properties each, plus 2 KiB per
# event for its other fields at their longest (about 1 KiB of ASCII) with room for non-ASCII
# ids and whitespace; or STRIDE_BULK_MAX_ITEMS upsert items of up to 2 KiB each (a user at
# its longest is 0.9 KiB in ASCII, 1.4 KiB with non-ASCII names). Rounded up to whole MiB:
# 10 MiB with the defaults.
_LARGEST_BODY = max(
    STRIDE_EVENTS_MAX_BATCH * (MAX_PROPERTIES_BYTES + 2048),
    STRIDE_BULK_MAX_ITEMS * 2048,
)
DATA_UPLOAD_MAX_MEMORY_SIZE = math.ceil(_LARGEST_BODY / 2**20) * 2**20
# Drop-off horizon of the risk model: "dropped off" = no activity in this many days after the
# cut-off (the KDD Cup 2015 definition, which the external check measures against).
STRIDE_RISK_HORIZON_DAYS = int(os.environ.get("STRIDE_RISK_HORIZON_DAYS", "10"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes.apps": {"level": "WARNING"},  # its start-up banner; lockouts are still logged
    },
}

# --- How students reach their pages (accounts): LTI 1.3 launches, one-time sign-in links, ---
# --- email and password with the reset flow. -----------------------------------------------
# Where a student (any non-staff user) lands after signing in by password, link or LTI launch;
# staff keep LOGIN_REDIRECT_URL.
STRIDE_STUDENT_HOME = "/me/"
# The site's address for links made without a request (`manage.py sign_in_link`), e.g.
# https://stride.example.com; the API answers links on the address it was called at when unset.
STRIDE_SITE_URL = os.environ.get("STRIDE_SITE_URL", "").rstrip("/")
# A one-time sign-in link works once, within this many minutes of being made.
STRIDE_SIGN_IN_LINK_MINUTES = int(os.environ.get("STRIDE_SIGN_IN_LINK_MINUTES", "10"))
# A learning platform's public keys (JWKS) are cached this long (a launch signed with a key
# the cached set lacks fetches it again at once), and fetched with this timeout in seconds.
STRIDE_LTI_JWKS_CACHE_SECONDS = int(os.environ.get("STRIDE_LTI_JWKS_CACHE_SECONDS", "300"))
STRIDE_LTI_HTTP_TIMEOUT = float(os.environ.get("STRIDE_LTI_HTTP_TIMEOUT", "5"))
# Follow-ups of an accepted LTI launch owned by apps above accounts (e.g. enrolling the learner
# in the course whose external id is the launch's context id), called in order with an
# accounts.records.LtiLaunchRecord inside the launch's transaction.
STRIDE_LTI_LAUNCH_HANDLERS: list[str] = []
# Password reset links (emailed through EMAIL_BACKEND) work for this many seconds.
PASSWORD_RESET_TIMEOUT = int(os.environ.get("PASSWORD_RESET_TIMEOUT", str(60 * 60 * 24)))

# --- Gamification (XP, levels, moments) ------------------------------------------------------
# Off sets gamification aside for ingested events (no XP, streaks or achievements are derived
# from them; e.g. to compare import speed). The XP API and staff grants still work.
STRIDE_GAMIFICATION_ENABLED = env_bool("STRIDE_GAMIFICATION_ENABLED", True)
# Follow-ups of newly recorded moments (level-ups, unlocks, milestones, ...) owned by apps above
# gamification (e.g. interventions turning them into in-app messages): dotted paths of
# functions called in order, after the commit, with the list of core.records.MomentRecord.
STRIDE_MOMENT_HANDLERS: list[str] = [
    "interventions.services.moments.moments_to_messages",
    "interventions.services.rules.moments_to_rules",
]

# Interventions: frequency caps across channels (rolling 24 hours and 7 days) and quiet hours
# in the learner's own timezone, [start, end) as local hours; a message due in them waits.
STRIDE_INTERVENTION_DAILY_CAP = int(os.environ.get("STRIDE_INTERVENTION_DAILY_CAP", "1"))
STRIDE_INTERVENTION_WEEKLY_CAP = int(os.environ.get("STRIDE_INTERVENTION_WEEKLY_CAP", "3"))
STRIDE_QUIET_HOURS = (21, 8)
# Caps of one intervention type, (per 24 hours, per 7 days), in place of the two above, e.g.
# {"achievement_notification": (2, 5)}. A learner at critical risk may get one more than a cap.
STRIDE_INTERVENTION_TYPE_CAPS: dict[str, tuple[int, int]] = {}
# Web Push: the server's VAPID key (raw P-256 private key, base64url: `manage.py vapid_keys`);
# without one the push channel is off. The subject is who push services contact.
STRIDE_PUSH_BACKEND = os.environ.get(
    "STRIDE_PUSH_BACKEND", "interventions.channels.push.WebPushBackend"
)
STRIDE_VAPID_PRIVATE_KEY = os.environ.get("STRIDE_VAPID_PRIVATE_KEY", "")
STRIDE_VAPID_SUBJECT = os.environ.get("STRIDE_VAPID_SUBJECT", "mailto:support@stride.local")
STRIDE_PUSH_TTL_SECONDS = int(os.environ.get("STRIDE_PUSH_TTL_SECONDS", str(60 * 60 * 24)))
STRIDE_PUSH_TIMEOUT_SECONDS = float(os.environ.get("STRIDE_PUSH_TIMEOUT_SECONDS", "10"))
# The push services a subscription may point at (a host or a parent domain). Stride POSTs to
# a subscription's endpoint, so any other URL would let a student make the server call it.
STRIDE_PUSH_SERVICE_HOSTS = env_list(
    "STRIDE_PUSH_SERVICE_HOSTS",
    "fcm.googleapis.com,updates.push.services.mozilla.com,push.apple.com,notify.windows.com",
)
# SMS: the console by default; interventions.channels.sms.SnsBackend for Amazon SNS (AWS
# credentials from the environment). Texts only at these risk levels, and only with consent.
STRIDE_SMS_BACKEND = os.environ.get(
    "STRIDE_SMS_BACKEND", "interventions.channels.sms.ConsoleBackend"
)
AWS_SNS_REGION = os.environ.get("AWS_SNS_REGION", "eu-west-1")
STRIDE_SMS_SENDER_ID = os.environ.get("STRIDE_SMS_SENDER_ID", "")
STRIDE_SMS_RISK_LEVELS = env_list("STRIDE_SMS_RISK_LEVELS", "critical")
# AI personalisation of templates marked for it (the anthropic SDK): off without a key.
ANTHROPIC_API_KEY = os.environ.get("ANTHROPIC_API_KEY", "")
STRIDE_AI_MODEL = os.environ.get("STRIDE_AI_MODEL", "claude-sonnet-4-5")
STRIDE_AI_TIMEOUT_SECONDS = float(os.environ.get("STRIDE_AI_TIMEOUT_SECONDS", "8"))
# US dollars per million input and output tokens, for the cost kept on each delivery.
STRIDE_AI_PRICE_PER_MTOK = (
    float(os.environ.get("STRIDE_AI_INPUT_PRICE", "3")),
    float(os.environ.get("STRIDE_AI_OUTPUT_PRICE", "15")),
)

# Campaigns: a run's audience is cut into chunks of this many learners, each queued by its own
# task (they run in parallel on the workers and show the run's progress).
# No-show prediction (analytics.services.no_show): learners likely to miss a live session are
# sent this template (by slug; staff create it, nothing is sent without it) once, when the
# session is less than this many hours away.
STRIDE_NO_SHOW_REMINDER_TEMPLATE = os.environ.get(
    "STRIDE_NO_SHOW_REMINDER_TEMPLATE", "live-session-reminder"
)
STRIDE_NO_SHOW_REMINDER_HOURS = int(os.environ.get("STRIDE_NO_SHOW_REMINDER_HOURS", "24"))

STRIDE_CAMPAIGN_CHUNK_SIZE = int(os.environ.get("STRIDE_CAMPAIGN_CHUNK_SIZE", "1000"))

# --- Video (lesson videos: upload, HLS transcoding, signed playback, watch analytics) --------
# Uploads larger than this are refused (413 while streaming; ffprobe re-checks the stored file).
STRIDE_VIDEO_MAX_UPLOAD_BYTES = int(os.environ.get("STRIDE_VIDEO_MAX_UPLOAD_BYTES", str(5 * 2**30)))
STRIDE_VIDEO_MAX_DURATION_SECONDS = int(
    os.environ.get("STRIDE_VIDEO_MAX_DURATION_SECONDS", "14400")
)
STRIDE_VIDEO_MAX_WIDTH = int(os.environ.get("STRIDE_VIDEO_MAX_WIDTH", "3840"))
STRIDE_VIDEO_MAX_HEIGHT = int(os.environ.get("STRIDE_VIDEO_MAX_HEIGHT", "2160"))
# An upload URL works for this long after it was asked for.
STRIDE_VIDEO_UPLOAD_URL_SECONDS = int(os.environ.get("STRIDE_VIDEO_UPLOAD_URL_SECONDS", "3600"))
# The transcoder (embedded: ffmpeg on the worker); HLS segments of this many seconds, with a
# keyframe at each boundary; the x264 preset trades speed for size.
STRIDE_VIDEO_BACKEND = os.environ.get("STRIDE_VIDEO_BACKEND", "ffmpeg")
# Production transcoder (STRIDE_VIDEO_BACKEND=mediaconvert): AWS MediaConvert reads the upload
# from and writes the ladder to STRIDE_VIDEO_S3_BUCKET; credentials from the usual AWS variables.
STRIDE_MEDIACONVERT_REGION = os.environ.get("STRIDE_MEDIACONVERT_REGION", "eu-west-1")
STRIDE_MEDIACONVERT_ENDPOINT_URL = os.environ.get("STRIDE_MEDIACONVERT_ENDPOINT_URL", "")
STRIDE_MEDIACONVERT_ROLE_ARN = os.environ.get("STRIDE_MEDIACONVERT_ROLE_ARN", "")
STRIDE_MEDIACONVERT_QUEUE_ARN = os.environ.get("STRIDE_MEDIACONVERT_QUEUE_ARN", "")
STRIDE_VIDEO_S3_BUCKET = os.environ.get(
    "STRIDE_VIDEO_S3_BUCKET", os.environ.get("AWS_STORAGE_BUCKET_NAME", "")
)
# Production playback through CloudFront signed URLs (video/services/cloudfront.py): all three
# set, or Stride's own session-bound signed URLs serve the ladder. The private key is PEM text
# (newlines may be escaped as \n) or the path of a PEM file.
STRIDE_VIDEO_CLOUDFRONT_DOMAIN = os.environ.get("STRIDE_VIDEO_CLOUDFRONT_DOMAIN", "")
STRIDE_VIDEO_CLOUDFRONT_KEY_PAIR_ID = os.environ.get("STRIDE_VIDEO_CLOUDFRONT_KEY_PAIR_ID", "")
STRIDE_VIDEO_CLOUDFRONT_PRIVATE_KEY = os.environ.get("STRIDE_VIDEO_CLOUDFRONT_PRIVATE_KEY", "")
STRIDE_VIDEO_CLOUDFRONT_URL_SECONDS = int(
    os.environ.get("STRIDE_VIDEO_CLOUDFRONT_URL_SECONDS", "1800")
)
STRIDE_VIDEO_FFMPEG = os.environ.get("STRIDE_VIDEO_FFMPEG", "ffmpeg")
STRIDE_VIDEO_FFPROBE = os.environ.get("STRIDE_VIDEO_FFPROBE", "ffprobe")
STRIDE_VIDEO_FFMPEG_PRESET = os.environ.get("STRIDE_VIDEO_FFMPEG_PRESET", "veryfast")
STRIDE_VIDEO_SEGMENT_SECONDS = int(os.environ.get("STRIDE_VIDEO_SEGMENT_SECONDS", "4"))
# A running transcode whose progress has not moved for this long is taken up again (beat).
STRIDE_VIDEO_STALE_JOB_MINUTES = int(os.environ.get("STRIDE_VIDEO_STALE_JOB_MINUTES", "15"))
# Playback links: bound to the viewer's session and valid this long (the player page makes
# fresh ones on every load); links handed to integrators by the API work for anyone holding
# them, for the shorter time.
STRIDE_VIDEO_TOKEN_SECONDS = int(os.environ.get("STRIDE_VIDEO_TOKEN_SECONDS", "7200"))
STRIDE_VIDEO_BEARER_TOKEN_SECONDS = int(os.environ.get("STRIDE_VIDEO_BEARER_TOKEN_SECONDS", "300"))
# The player's heartbeat period; watch analytics count per second up to this video length,
# per percent beyond.
STRIDE_VIDEO_HEARTBEAT_SECONDS = int(os.environ.get("STRIDE_VIDEO_HEARTBEAT_SECONDS", "10"))
STRIDE_VIDEO_PER_SECOND_MAX_SECONDS = int(
    os.environ.get("STRIDE_VIDEO_PER_SECOND_MAX_SECONDS", "1800")
)

# Analytics: rates converting each currency to one base currency for revenue totals (e.g.
# {"EUR": 1, "USD": 0.92}); empty keeps revenue per currency only.
ANALYTICS_EXCHANGE_RATES: dict[str, float] = {}
