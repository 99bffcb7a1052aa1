"""Settings shared by every environment.

Two run modes come from the same code:
- embedded (no ``DATABASE_URL`` / ``REDIS_URL``): SQLite, the in-memory channel layer
  and Celery tasks executed eagerly in the calling process;
- services (``DATABASE_URL`` and ``REDIS_URL`` set): PostgreSQL, channels-redis and a
  Redis Celery broker consumed by separate worker processes.
"""

from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-dev-key-change-me")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "django_htmx",
    "axes",
    "roleplay",
    "feedback",
    "models_ml",
    "models_ml.partners",
    "models_ml.practice",
    "models_ml.arena",
    "models_ml.coaching",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "kokoro_site.middleware.DatabaseUnavailableMiddleware",
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "kokoro_site.urls"
WSGI_APPLICATION = "kokoro_site.wsgi.application"
ASGI_APPLICATION = "kokoro_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the web server and a worker share the embedded database.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;"}
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=0))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "roleplay:dashboard"
LOGOUT_REDIRECT_URL = "login"

# Japanese first, English available.
LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", _("Japanese")), ("en", _("English"))]
LOCALE_PATHS = (
    sorted(p for p in (BASE_DIR / "locale").iterdir() if p.is_dir()) if (BASE_DIR / "locale").exists() else []
)
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = env.path("KOKORO_MEDIA_ROOT", default=str(BASE_DIR / "var" / "media"))
# Where trained models, adapters and exports live.
KOKORO_ARTIFACTS_DIR = Path(env("KOKORO_ARTIFACTS_DIR", default=str(BASE_DIR / "var" / "artifacts")))

# --- Realtime / broker -------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    # The pub/sub layer: one PUBLISH per group send and no serial receive loop (the chat's
    # partner latency at 10 sessions fell from ~4.3 s to ~0.16 s, see docs/benchmarks.md).
    # redis-py 8 gives up on a read after 5 s by default, racing channels-redis's own 5 s
    # wait, and caps a pool at 100 connections: both are raised here.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": 15,
                        "socket_connect_timeout": 5,
                        "max_connections": env.int("KOKORO_REDIS_MAX_CONNECTIONS", default=2000),
                    }
                ],
                "prefix": env("KOKORO_CHANNEL_PREFIX", default="kokoro"),
            },
        }
    }
    CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
    CELERY_TASK_ALWAYS_EAGER = False
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="memory://")
    # Embedded mode: no broker process, tasks run in the process that queues them.
    CELERY_TASK_ALWAYS_EAGER = True
    CELERY_TASK_EAGER_PROPAGATES = False

CELERY_RESULT_BACKEND = None
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_TIME_LIMIT = 60 * 60 * 12
CELERY_TASK_SOFT_TIME_LIMIT = 60 * 60 * 12 - 60
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A fine-tuning job may run for hours: the broker must not redeliver it while it runs.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 60 * 60 * 13}
CELERY_TASK_ROUTES = {
    "models_ml.tasks.gpu_*": {"queue": "gpu"},
    "models_ml.partners.tasks.gpu_*": {"queue": "gpu"},
}
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BEAT_SCHEDULE = {
    "end-overdue-sessions": {"task": "roleplay.tasks.end_overdue_sessions", "schedule": 60.0},
    "reap-stale-finetune-jobs": {"task": "models_ml.partners.tasks.reap_stale_finetune_jobs", "schedule": 60.0},
    "reap-stale-practice-replies": {"task": "models_ml.practice.tasks.reap_stale_replies", "schedule": 60.0},
}

# --- Chat rules ---------------------------------------------------------------------
KOKORO_MAX_MESSAGE_CHARS = 2000
KOKORO_DEFAULT_SESSION_MINUTES = 60
# Per-user chat rate limit: at most N messages in a sliding window of W seconds.
KOKORO_CHAT_RATE_LIMIT = env.int("KOKORO_CHAT_RATE_LIMIT", default=30)
KOKORO_CHAT_RATE_WINDOW_S = env.int("KOKORO_CHAT_RATE_WINDOW_S", default=10)

# --- django-axes (log-in attempt limits) ---------------------------------------------
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "roleplay.views.accounts.lockout_response"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

# --- Auto-scorer -----------------------------------------------------------------------
# "cpu" (default, trained by `manage.py train_scorer`) or "llm" (QLoRA adapter on the gpu queue).
KOKORO_SCORER_BACKEND = env("KOKORO_SCORER_BACKEND", default="cpu")

# --- Generation backends (practice partners, simulations, LLM scorer) --------------------
# An OpenAI-compatible endpoint (OpenAI itself or a vLLM server) used when no trained model
# version is active; empty = skipped, and the CPU `retrieval` partner is the fallback.
# The key is read from the named environment variable at use, never stored in the database.
_OPENAI_BACKEND = {
    "backend": "openai",
    "base_url": env("KOKORO_OPENAI_BASE_URL", default=""),
    "model": env("KOKORO_OPENAI_MODEL", default=""),
    "api_key_env": "KOKORO_OPENAI_API_KEY",
}
KOKORO_GENERATION_BACKENDS = {"counselor": _OPENAI_BACKEND, "client": _OPENAI_BACKEND, "scorer": _OPENAI_BACKEND}
KOKORO_FINETUNE_BASE_MODELS = env.list("KOKORO_FINETUNE_BASE_MODELS", default=[])

# --- Simulations (models_ml.arena) -----------------------------------------------------------
# Prompts and refinement of simulated sessions: "interactive_agents" (default; the paper's
# published counselor prompt with three stages and nine rules, its client prompt, the
# <=200-character / no-line-break / no-enumeration refinement on the counselor) or "platform"
# (our earlier variant: short generic counselor prompt, the refinement on the client instead).
KOKORO_SIM_PROTOCOL = env("KOKORO_SIM_PROTOCOL", default="interactive_agents")
