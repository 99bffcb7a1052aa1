"""First run as `make run` does it, on a fresh embedded database: how long until the server answers, how long the
background set-up of the published data takes (per step), and how long staff POSTs take while it runs.

    KOKOROCHAT_DIR=/work/shared/kokorochat/kokorochat_dialogues python bench/first_run_bench.py --out /tmp/first_run.json

Uses a temporary SQLite database and artifacts folder (the repository's db.sqlite3 is not touched), the demo
accounts (`seed_demo`) and daphne, exactly as `make run`; the web process starts the set-up itself."""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path: str) -> tuple[int, str]:
        with self.opener.open(self.base + path, timeout=60) as r:
            return r.status, r.read().decode()

    def csrf(self) -> str:
        return next(c.value for c in self.jar if c.name == "csrftoken")

    def post(self, path: str, data: dict, referer: str = "/") -> tuple[int, float]:
        body = urllib.parse.urlencode({**data, "csrfmiddlewaretoken": self.csrf()}).encode()
        req = urllib.request.Request(self.base + path, data=body, headers={"Referer": self.base + referer})
        started = time.perf_counter()

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a, **k):
                return None

        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)
        try:
            with opener.open(req, timeout=60) as r:
                status = r.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        return status, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--posts-only", action="store_true", help="stop after the POSTs (measured during the import)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="first-run-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "kokoro_site.settings.local",
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
        "KOKORO_ARTIFACTS_DIR": str(tmp / "artifacts"),
        "KOKORO_MEDIA_ROOT": str(tmp / "media"),
    }
    env.pop("REDIS_URL", None)
    for cmd in (["migrate", "--noinput", "-v", "0"], ["seed_demo"]):
        subprocess.run([PY, "manage.py", *cmd], cwd=ROOT, env=env, check=True, capture_output=True)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/daphne"), "-b", "127.0.0.1", "-p", str(port), "kokoro_site.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    result: dict = {"posts": []}
    try:
        started = time.monotonic()
        browser = Browser(base)
        while True:
            try:
                browser.get("/accounts/login/")
                break
            except OSError:
                time.sleep(0.1)
        result["server_answers_after_s"] = round(time.monotonic() - started, 2)
        status, _ = browser.post(
            "/accounts/login/", {"username": "admin", "password": "kokoro-admin-2025"}, "/accounts/login/"
        )
        browser.get("/ml/setup/")
        posts = [  # the light ones first: the last two start CPU-heavy jobs of their own
            ("bootstrap:start (already running)", "/ml/setup/start/", {}),
            ("bootstrap:import (folder, refused: missing)", "/ml/setup/import/", {"path": str(tmp / "missing")}),
            ("models_ml:scorer_train", "/ml/scorer/train/", {"min_sessions": "10"}),
            ("partners:model_build_retrieval", "/ml/partners/models/retrieval/", {"role": "counselor"}),
        ]
        done_posts = False
        while time.monotonic() - started < args.timeout:
            _status, page = browser.get("/ml/setup/status/")
            run_status = re.search(r'data-run-status="(\w+)"', page).group(1)
            if not done_posts and "data-percent" in page:
                for name, path, data in posts:  # while the set-up runs in the same process
                    code, seconds = browser.post(path, data, "/ml/setup/")
                    result["posts"].append({"post": name, "status": code, "seconds": round(seconds, 3)})
                for path in ("/", "/ml/setup/"):
                    t0 = time.perf_counter()
                    browser.get(path)
                    result["posts"].append({"get": path, "seconds": round(time.perf_counter() - t0, 3)})
                done_posts = True
                if args.posts_only:
                    result["setup_status"] = run_status
                    return _finish(result, args.out, server)
            if run_status in ("succeeded", "failed", "cancelled"):
                break
            time.sleep(2)
        result["setup_status"] = run_status
        result["setup_wall_s"] = round(time.monotonic() - started, 1)
        out = subprocess.run(
            [
                PY,
                "manage.py",
                "shell",
                "-c",
                "import json; from models_ml.bootstrap.models import SetupRun; r = SetupRun.objects.first(); "
                "print(json.dumps([[s._meta.label, s.status, round((s.finished_at - s.started_at).total_seconds(), 1)"
                " if s.finished_at and s.started_at else None, s.message[:120]] for s in r.steps()]))",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        result["steps"] = json.loads(out.stdout.strip().splitlines()[-1]) if out.stdout.strip() else out.stderr[-500:]
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=30)
    return _finish(result, args.out, server)


def _finish(result: dict, out: str, server: subprocess.Popen) -> int:
    if server.poll() is None:
        server.terminate()
        server.wait(timeout=30)
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if out:
        Path(out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
