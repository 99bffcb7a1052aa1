from .base import *  # noqa: F403
from .base import env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
KOKORO_CHAT_RATE_LIMIT = env.int("KOKORO_CHAT_RATE_LIMIT", default=1000)
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
