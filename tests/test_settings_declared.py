"""Every KOKORO_* setting is declared once in kokoro_site/settings/base.py (django-environ, default,
comment), read as ``settings.X`` elsewhere, and listed in .env.example; no environment reads outside
the settings package."""

import re
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
BASE = ROOT / "kokoro_site" / "settings" / "base.py"
APP_DIRS = ("roleplay", "feedback", "models_ml", "kokoro_site")
NAME = re.compile(r"\bKOKORO_[A-Z0-9_]+\b")
# The standard Django bootstrap (manage.py, asgi, wsgi, celery) only sets a default settings module.
BOOTSTRAP = 'os.environ.setdefault("DJANGO_SETTINGS_MODULE"'
# Built from other declared variables (KOKORO_OPENAI_*), so not read from the environment itself.
COMPOSED = {"KOKORO_GENERATION_BACKENDS"}


def _app_sources():
    for top in APP_DIRS:
        for path in (ROOT / top).rglob("*.py"):
            if "migrations" in path.parts or path.is_relative_to(ROOT / "kokoro_site" / "settings"):
                continue
            yield path, path.read_text(encoding="utf-8")


def _declared() -> dict[str, str]:
    """name -> the comment line just above its declaration."""
    lines = BASE.read_text(encoding="utf-8").splitlines()
    declared = {}
    for i, line in enumerate(lines):
        match = re.match(r"^(KOKORO_[A-Z0-9_]+) = ", line)
        if match:
            assert match.group(1) not in declared, f"{match.group(1)} declared twice"
            declared[match.group(1)] = lines[i - 1] if i else ""
    return declared


def test_every_kokoro_setting_is_declared_once_in_base_with_env_and_a_comment():
    declared = _declared()
    source = BASE.read_text(encoding="utf-8")
    for name, comment in declared.items():
        assert name in COMPOSED or f'"{name}"' in source, f"{name} is not read through django-environ"
        assert comment.lstrip().startswith("#"), f"{name} has no comment"
        assert hasattr(settings, name)


def test_every_kokoro_name_used_by_the_code_is_declared():
    declared = set(_declared())
    used = set()
    for _path, text in _app_sources():
        used |= set(NAME.findall(text))
    used -= {"KOKORO_"}
    assert used - declared == set()


def test_no_getattr_defaults_and_no_environment_reads_outside_the_settings_package():
    offenders = []
    for path, text in _app_sources():
        rel = str(path.relative_to(ROOT))
        for lineno, line in enumerate(text.splitlines(), 1):
            if re.search(r"getattr\(\s*settings\s*,\s*[\"']KOKORO_", line):
                offenders.append(f"{rel}:{lineno}: {line.strip()}")
            if re.search(r"os\.environ|os\.getenv|environ\.Env\(", line) and BOOTSTRAP not in line:
                offenders.append(f"{rel}:{lineno}: {line.strip()}")
    assert offenders == []


def test_env_example_lists_every_kokoro_setting():
    listed = set(NAME.findall((ROOT / ".env.example").read_text(encoding="utf-8")))
    assert set(_declared()) - COMPOSED - listed == set()
