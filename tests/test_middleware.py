import os
import subprocess
import sys

from tests.conftest import REPO_ROOT

# Runs a request in a fresh process whose database points at a closed port.
_SCRIPT = """
import django, os
django.setup()
from django.test import Client
c = Client(raise_request_exception=True)
c.cookies["sessionid"] = "x" * 32
r = c.get("/admin/")
print(r.status_code, r.headers.get("Retry-After"))
print(r.content.decode())
"""


def test_unreachable_database_answers_503_with_a_page_not_a_traceback():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "kokoro_site.settings.test",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:1/unreachable",
    }
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    first, _, body = result.stdout.partition("\n")
    assert first == "503 30"
    assert "Temporarily unavailable" in body
    assert "Traceback" not in body
