from .base import *  # noqa: F403
from .base import env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
KOKORO_CHAT_RATE_LIMIT = env.int("KOKORO_CHAT_RATE_LIMIT", default=1000)
# The fuzz and load tests send thousands of frames on one socket; the limits' own tests set them.
KOKORO_CHAT_FRAME_LIMIT = env.int("KOKORO_CHAT_FRAME_LIMIT", default=100_000)
KOKORO_CHAT_SYNC_LIMIT = env.int("KOKORO_CHAT_SYNC_LIMIT", default=100_000)
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
KOKORO_BOOTSTRAP_ON_START = False  # a test starts the set-up itself
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file (not in-memory) test database, so the browser tests' server threads share it.
    import os as _os
    import tempfile as _tempfile

    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": _os.path.join(_tempfile.gettempdir(), f"kokoro-test-{_os.getpid()}.sqlite3")
    }
