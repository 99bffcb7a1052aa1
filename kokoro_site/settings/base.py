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
    "csp",
    "roleplay",
    "feedback",
    "models_ml.jobs",
    "models_ml.scoring",
    "models_ml.finetuning",
    "models_ml.practice",
    "models_ml.arena",
    "models_ml.coaching",
    "models_ml.bootstrap",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "kokoro_site.middleware.never_cache_middleware",  # no-store, private on every page (issue 14)
    "kokoro_site.middleware.SessionMiddleware",  # Django's; a failed save during an outage is a 503
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
                "roleplay.context_processors.notifications",
                "models_ml.bootstrap.context_processors.setup_notice",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the web server and a worker share the embedded database.
    # BEGIN IMMEDIATE: a write transaction takes the lock when it starts, so concurrent writers
    # wait out the busy timeout instead of failing at once with "database is locked" (a
    # deferred transaction upgrading its read lock ignores the timeout).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;",
        }
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
# Where `collectstatic` writes (served by whitenoise).
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Uploaded files (Django's MEDIA_ROOT).
KOKORO_MEDIA_ROOT = env.path("KOKORO_MEDIA_ROOT", default=str(BASE_DIR / "var" / "media"))
MEDIA_ROOT = KOKORO_MEDIA_ROOT
# Where trained models, adapters, retrieval indexes and exports live.
KOKORO_ARTIFACTS_DIR = Path(env("KOKORO_ARTIFACTS_DIR", default=str(BASE_DIR / "var" / "artifacts")))

# --- Realtime / broker -------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
# Redis connection pool size of the channel layer (one connection per open WebSocket group at peak).
KOKORO_REDIS_MAX_CONNECTIONS = env.int("KOKORO_REDIS_MAX_CONNECTIONS", default=2000)
# Prefix of the channel layer's Redis keys (lets several deployments or test runs share one Redis).
KOKORO_CHANNEL_PREFIX = env("KOKORO_CHANNEL_PREFIX", default="kokoro")
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
                        "max_connections": KOKORO_REDIS_MAX_CONNECTIONS,
                    }
                ],
                "prefix": KOKORO_CHANNEL_PREFIX,
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
# Fine-tuning always runs on a GPU worker; other ML tasks choose their queue when they are sent
# (``gpu`` for hf models), see models_ml.jobs.services.job_dispatch.
CELERY_TASK_ROUTES = {
    "models_ml.finetuning.tasks.gpu_*": {"queue": "gpu"},
}
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BEAT_SCHEDULE = {
    "end-overdue-sessions": {"task": "roleplay.tasks.end_overdue_sessions", "schedule": 60.0},
    "remind-starting-sessions": {"task": "roleplay.tasks.remind_starting_sessions", "schedule": 60.0},
    # Every job type (fine-tuning, arena, coaching, index builds, scorer training) and the practice replies.
    "reap-stale-jobs": {"task": "models_ml.jobs.tasks.reap_stale_jobs", "schedule": 60.0},
}

# --- Chat rules ---------------------------------------------------------------------
# Longest chat message (characters); longer ones are refused with a clear error.
KOKORO_MAX_MESSAGE_CHARS = env.int("KOKORO_MAX_MESSAGE_CHARS", default=2000)
# Length of a matched or AI practice session, in minutes.
KOKORO_DEFAULT_SESSION_MINUTES = env.int("KOKORO_DEFAULT_SESSION_MINUTES", default=60)
# Per-user chat rate limit: at most N messages in a sliding window of W seconds.
KOKORO_CHAT_RATE_LIMIT = env.int("KOKORO_CHAT_RATE_LIMIT", default=30)
# W of that limit, in seconds.
KOKORO_CHAT_RATE_WINDOW_S = env.int("KOKORO_CHAT_RATE_WINDOW_S", default=10)
# Threads (and so at most this many PostgreSQL connections) per server process for the chat
# sockets' database work (roleplay/db_hop.py); SQLite uses Django's single thread.
KOKORO_DB_THREADS = env.int("KOKORO_DB_THREADS", default=8)
# Async connections per server process (per event loop) for the common chat message, stored in the
# socket's event loop without a thread hop (roleplay/loop_store.py; PostgreSQL only).
KOKORO_DB_ASYNC_CONNECTIONS = env.int("KOKORO_DB_ASYNC_CONNECTIONS", default=4)
# A chat socket asks again this often whether a receiver of message_created (live coaching, AI
# partners) wants its messages; a settings change tells it at once (roleplay/signals.py).
KOKORO_CHAT_INTEREST_S = env.float("KOKORO_CHAT_INTEREST_S", default=60.0)

# --- Security and production (issue 14) -------------------------------------------------
# Per-socket frame limits (roleplay/socket_throttle.py), per KOKORO_CHAT_RATE_WINDOW_S.
# Frames of any type per socket and window:
KOKORO_CHAT_FRAME_LIMIT = env.int("KOKORO_CHAT_FRAME_LIMIT", default=120)
# `sync` frames per socket and window:
KOKORO_CHAT_SYNC_LIMIT = env.int("KOKORO_CHAT_SYNC_LIMIT", default=20)
# Typing frames are forwarded to the partner at most once per this many seconds:
KOKORO_CHAT_TYPING_INTERVAL_S = env.float("KOKORO_CHAT_TYPING_INTERVAL_S", default=1.0)
# Content-Security-Policy (django-csp 4): scripts only from this site, never inline (the pages
# pass values through data- attributes and json_script); inline styles stay allowed.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}
# Log-ins end when the browser closes, or after this many idle minutes (each request, and each
# chat frame, counts as activity; open sockets close when the login ends, docs/protocol.md).
KOKORO_SESSION_IDLE_MINUTES = env.int("KOKORO_SESSION_IDLE_MINUTES", default=60)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_AGE = KOKORO_SESSION_IDLE_MINUTES * 60
SESSION_SAVE_EVERY_REQUEST = True
# Mail (password reset): DJANGO_EMAIL_URL, e.g. smtp+tls://user:password@smtp.example.org:587;
# the console backend (mail printed to the log) when unset.
vars().update(env.email_url("DJANGO_EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", default="KokoroChat <noreply@localhost>")
# Password-reset requests per e-mail address in KOKORO_PASSWORD_RESET_WINDOW_S:
KOKORO_PASSWORD_RESET_PER_ADDRESS = env.int("KOKORO_PASSWORD_RESET_PER_ADDRESS", default=3)
# Password-reset requests per client IP in KOKORO_PASSWORD_RESET_WINDOW_S:
KOKORO_PASSWORD_RESET_PER_IP = env.int("KOKORO_PASSWORD_RESET_PER_IP", default=10)
# The window (seconds) of both password-reset limits:
KOKORO_PASSWORD_RESET_WINDOW_S = env.int("KOKORO_PASSWORD_RESET_WINDOW_S", default=3600)
# Failed log-ins from one IP address across all user names before it is locked out for
# AXES_COOLOFF_TIME (django-axes already locks a user name + IP pair after AXES_FAILURE_LIMIT).
KOKORO_LOGIN_IP_FAILURE_LIMIT = env.int("KOKORO_LOGIN_IP_FAILURE_LIMIT", default=15)
# --- end of issue 14 block ----------------------------------------------------------------
# --- Notifications (site list, live badge, e-mail through DJANGO_EMAIL_URL above) -----
# The site's public address, for links in e-mails (no trailing slash).
KOKORO_SITE_URL = env.str("KOKORO_SITE_URL", default="http://127.0.0.1:8000")

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
# Base URL of the endpoint (e.g. https://api.openai.com/v1 or http://gpu-host:8000/v1); empty = none.
KOKORO_OPENAI_BASE_URL = env("KOKORO_OPENAI_BASE_URL", default="")
# Model name served by that endpoint.
KOKORO_OPENAI_MODEL = env("KOKORO_OPENAI_MODEL", default="")
_OPENAI_BACKEND = {
    "backend": "openai",
    "base_url": KOKORO_OPENAI_BASE_URL,
    "model": KOKORO_OPENAI_MODEL,
    "api_key_env": "KOKORO_OPENAI_API_KEY",
}
# Per kind, the configured endpoint (built from the KOKORO_OPENAI_* variables above, not read itself).
KOKORO_GENERATION_BACKENDS = {"counselor": _OPENAI_BACKEND, "client": _OPENAI_BACKEND, "scorer": _OPENAI_BACKEND}
# The key of that endpoint (a secret: set it in the environment, never in the database).
KOKORO_OPENAI_API_KEY = env("KOKORO_OPENAI_API_KEY", default="")

# --- Background jobs (models_ml.jobs) ------------------------------------------------------
# Memory budget of the per-process model cache (GiB): least recently used models are dropped
# beyond it; one copy of a model per worker whichever app asks for it.
KOKORO_MODEL_CACHE_GB = env.float("KOKORO_MODEL_CACHE_GB", default=24.0)
# Job pages get progress pushed over ws/jobs/; they also re-read their progress fragment this often (seconds),
# the slow fallback for when the socket is down.
KOKORO_JOBS_POLL_S = env.int("KOKORO_JOBS_POLL_S", default=15)

# --- First-run set-up (models_ml.bootstrap) ---------------------------------------------------
# The published KokoroChat folder (github.com/UEC-InabaLab/KokoroChat, kokorochat_dialogues/): when it
# exists, the web process's first start imports it, trains the scorer and builds the retrieval indexes.
KOKOROCHAT_DIR = env.path(
    "KOKOROCHAT_DIR", default=str(BASE_DIR.parent / "shared" / "kokorochat" / "kokorochat_dialogues")
)
# Start (or resume) that set-up when the web process starts (the tests turn it off).
KOKORO_BOOTSTRAP_ON_START = env.bool("KOKORO_BOOTSTRAP_ON_START", default=True)

# --- Fine-tuning (models_ml.finetuning) ------------------------------------------------------
# Base models suggested on the new-job form (paths or hub names).
KOKORO_FINETUNE_BASE_MODELS = env.list("KOKORO_FINETUNE_BASE_MODELS", default=[])
# Seconds between heartbeats of a running fine-tuning job.
KOKORO_FINETUNE_HEARTBEAT_S = env.float("KOKORO_FINETUNE_HEARTBEAT_S", default=10.0)
# A running job whose heartbeat is older is marked failed (“Worker lost”); loading an 8B model comes first.
KOKORO_FINETUNE_STALE_S = env.float("KOKORO_FINETUNE_STALE_S", default=600.0)
# Progress is written at most this often (plus at every validation).
KOKORO_FINETUNE_PROGRESS_WRITE_S = env.float("KOKORO_FINETUNE_PROGRESS_WRITE_S", default=2.0)
# The cancellation flag is read at most this often.
KOKORO_FINETUNE_CANCEL_POLL_S = env.float("KOKORO_FINETUNE_CANCEL_POLL_S", default=1.0)
# Celery hard time limit of a fine-tuning task (the soft limit is 2 minutes earlier).
KOKORO_FINETUNE_TIME_LIMIT_S = env.int("KOKORO_FINETUNE_TIME_LIMIT_S", default=60 * 60 * 12)
# Embedded mode: run fine-tuning in a background thread of the web process (see KOKORO_JOBS_EMBEDDED_THREAD).
KOKORO_FINETUNE_EMBEDDED_THREAD = env.bool("KOKORO_FINETUNE_EMBEDDED_THREAD", default=True)

# --- AI practice partners (models_ml.practice) ----------------------------------------------
# Wait this long after a trainee's message before answering (several quick messages = one reply).
KOKORO_PRACTICE_DEBOUNCE_S = env.float("KOKORO_PRACTICE_DEBOUNCE_S", default=1.0)
# Soft time limit of one AI reply (the hard limit is 30 s later).
KOKORO_PRACTICE_SOFT_TIME_LIMIT_S = env.float("KOKORO_PRACTICE_SOFT_TIME_LIMIT_S", default=180.0)
# Pause between the chunks of an AI-client reply (generated whole, then streamed).
KOKORO_PRACTICE_STREAM_DELAY_S = env.float("KOKORO_PRACTICE_STREAM_DELAY_S", default=0.03)
# Embedded mode: answer in a background thread started from the server's event loop (False: inline).
KOKORO_PRACTICE_EMBEDDED_THREAD = env.bool("KOKORO_PRACTICE_EMBEDDED_THREAD", default=True)

# --- Simulation, arena and evaluation (models_ml.arena) ----------------------------------------
# Closing phrases that end a simulated session; empty = the core's models_ml.llm.rules.CLOSING_PHRASES.
KOKORO_CLOSING_PHRASES = env.list("KOKORO_CLOSING_PHRASES", default=[])
# Tries per turn (simulation, arena client turns, judge calls).
KOKORO_SIM_TURN_RETRIES = env.int("KOKORO_SIM_TURN_RETRIES", default=3)
# Backoff base between tries (seconds, x 2^k).
KOKORO_SIM_RETRY_BACKOFF_S = env.float("KOKORO_SIM_RETRY_BACKOFF_S", default=1.0)
# K factor of the reference online Elo (metrics.online_elo); the leaderboards use Bradley-Terry, not this.
KOKORO_ELO_K = env.float("KOKORO_ELO_K", default=32.0)
# Prompts and refinement of simulated sessions and the LLM judge's criteria: "interactive_agents" (default; the
# paper's counselor prompt with three stages and nine rules, its client prompt, the <=200-character /
# no-line-break / no-enumeration refinement on the counselor, its supervisor criteria) or "platform" (our earlier
# variant: short generic counselor prompt, the refinement on the client, our skill principles for the judge).
KOKORO_SIM_PROTOCOL = env("KOKORO_SIM_PROTOCOL", default="interactive_agents")
# Celery hard time limit of every arena task.
KOKORO_ARENA_TIME_LIMIT_S = env.int("KOKORO_ARENA_TIME_LIMIT_S", default=6 * 60 * 60)
# A running arena job whose last progress is older is marked failed (“Worker lost”).
KOKORO_ARENA_STALE_S = env.float("KOKORO_ARENA_STALE_S", default=30 * 60.0)
# Embedded mode: run arena jobs in a background thread so the request returns.
KOKORO_ARENA_EMBEDDED_THREAD = env.bool("KOKORO_ARENA_EMBEDDED_THREAD", default=True)

# --- Coaching (models_ml.coaching) ------------------------------------------------------------
# Wait this long after a counselor message before the live coaching panel is recomputed.
KOKORO_COACHING_DEBOUNCE_S = env.float("KOKORO_COACHING_DEBOUNCE_S", default=1.5)
