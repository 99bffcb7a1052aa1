"""The production steps of README.md, run as written, end to end.

The block between ``<!-- production-steps -->`` markers in README.md is parsed: its ``export``
lines name the variables this test provides (a secret, the allowed host, a fresh database,
Redis, the TLS proxy header, a temporary static root), its ``migrate`` / ``collectstatic`` line
is run as is, and its ``uvicorn`` line is started on a free port on 127.0.0.1. The test then
talks to the server as a TLS-terminating proxy would (``X-Forwarded-Proto: https``, the public
``Host``): log-in page and stylesheet, log-in, the live session page and its WebSocket.
The Celery lines start the worker processes, which this test does not need.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import REPO_ROOT

HOST = "kokoro.test"
BLOCK = re.compile(r"<!-- production-steps.*?-->\s*```bash\n(.*?)```", re.S)
START_TIMEOUT_S = 90
pytestmark = pytest.mark.timeout(400)


def readme_steps() -> tuple[set[str], list[str]]:
    """(variables the block exports, the command lines in order)."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    match = BLOCK.search(text)
    assert match, "README.md has no production-steps block"
    names: set[str] = set()
    commands: list[str] = []
    for raw in match.group(1).splitlines():
        line = raw.split("  #")[0].strip()
        if not line:
            continue
        if line.startswith("export "):
            names.update(word.split("=")[0] for word in shlex.split(line)[1:])
        else:
            commands.append(line)
    return names, commands


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def production_database():
    """A fresh database of the configured kind, dropped afterwards (never the test database)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/production.sqlite3"
        return
    import psycopg

    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/') or 'kokoro'}_prod_{uuid.uuid4().hex[:8]}"
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield parts._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Browser:
    """Plain HTTP through the 'proxy': public Host, X-Forwarded-Proto https, cookies by hand
    (they are Secure, so a stock cookie jar would not send them over the plain socket)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None, **headers: str):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        sent = {"Host": HOST, "X-Forwarded-Proto": "https", **headers}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        content = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie()
            jar.load(header)
            for key, morsel in jar.items():
                assert "secure" in header.lower(), f"cookie {key} is not Secure"
                self.cookies[key] = morsel.value
        conn.close()
        return response, content.decode("utf-8", "replace")


def _wait_until_up(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"uvicorn did not listen within {START_TIMEOUT_S}s:\n{log.read_text()}")


def _run(command: str, env: dict[str, str]) -> None:
    result = subprocess.run(command, shell=True, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


def test_readme_production_steps_serve_pages_static_files_login_and_the_chat_socket(production_database, tmp_path):
    names, commands = readme_steps()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    provided = {
        "DJANGO_SETTINGS_MODULE": "kokoro_site.settings.production",
        "DJANGO_SECRET_KEY": "production-smoke-" + uuid.uuid4().hex * 2,
        "DJANGO_ALLOWED_HOSTS": HOST,
        "DATABASE_URL": production_database,
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        "DJANGO_SECURE_PROXY_SSL_HEADER": "true",
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        "DJANGO_EMAIL_URL": "smtp://127.0.0.1:1",  # no mail is sent by this test
    }
    assert names == set(provided), f"README exports {sorted(names)}; the test provides {sorted(provided)}"
    env.update(provided)
    # Not a production step: this machine may have the published data next to the repository, and the
    # first start would import it (models_ml.bootstrap); this test is about serving pages. The first-run
    # check itself still runs at start (uvicorn imports the app inside its event loop: it once crashed there).
    env["KOKOROCHAT_DIR"] = str(tmp_path / "no-dataset-here")
    setup = [c for c in commands if "manage.py migrate" in c]
    server = [c for c in commands if "uvicorn" in c]
    assert len(setup) == 1 and "collectstatic --noinput" in setup[0] and len(server) == 1, commands
    _run(setup[0], env)
    manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())
    assert "css/site.css" in manifest["paths"]
    # Demo accounts with a live session, to log in (not a production step).
    _run(".venv/bin/python manage.py seed_demo", env)

    port = _free_port()
    command = server[0].replace("--host 0.0.0.0", "--host 127.0.0.1").replace("--port 8000", f"--port {port}")
    assert command != server[0]
    log = tmp_path / "uvicorn.log"
    with log.open("w") as out:
        proc = subprocess.Popen(shlex.split(command), cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_until_up(port, proc, log)
        _exercise_the_site(port, log)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _exercise_the_site(port: int, log: Path) -> None:
    browser = Browser(port)
    response, html = browser.request("GET", "/accounts/login/")
    assert response.status == 200, (response.status, log.read_text()[-3000:])
    assert response.getheader("Strict-Transport-Security")
    stylesheet = re.search(r'href="(/static/css/site\.[0-9a-f]{12}\.css)"', html)
    assert stylesheet, "the log-in page does not link the hashed (manifest) stylesheet"
    response, css = browser.request("GET", stylesheet.group(1))
    assert response.status == 200 and "max-age" in response.getheader("Cache-Control", "")
    assert css.strip()

    # Plain http without the proxy header is redirected to https.
    response, _ = Browser(port).request("GET", "/accounts/login/", **{"X-Forwarded-Proto": "http"})
    assert response.status == 301 and response.getheader("Location").startswith(f"https://{HOST}/")

    token = browser.cookies["csrftoken"]
    body = f"username=counselor&password=kokoro-demo-2025&csrfmiddlewaretoken={token}&next="
    response, _ = browser.request(
        "POST",
        "/accounts/login/",
        body,
        **{"Content-Type": "application/x-www-form-urlencoded", "Origin": f"https://{HOST}"},
    )
    assert response.status == 302, response.status
    assert "sessionid" in browser.cookies
    response, html = browser.request("GET", "/")
    assert response.status == 200
    session_ids = re.findall(r'href="/sessions/(\d+)/"', html)
    assert session_ids, "the dashboard shows no session"
    response, room = browser.request("GET", f"/sessions/{session_ids[0]}/")
    assert response.status == 200 and "/static/js/chat." in room
    _open_socket(port, int(session_ids[0]), browser.cookies)


def _open_socket(port: int, session_id: int, cookies: dict[str, str]) -> None:
    from websockets.sync.client import connect

    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    headers = {
        "Origin": f"https://{HOST}",
        "X-Forwarded-Proto": "https",
        "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
    }
    with connect(f"ws://{HOST}/ws/sessions/{session_id}/", sock=sock, additional_headers=headers) as ws:
        hello = json.loads(ws.recv(timeout=30))
        assert hello["type"] == "hello" and hello["role"] == "counselor", hello
        ws.send(json.dumps({"type": "ping"}))
        types = []
        while "pong" not in types and len(types) < 10:
            types.append(json.loads(ws.recv(timeout=30))["type"])
        assert "pong" in types, types
