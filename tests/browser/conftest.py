"""A real ASGI server (uvicorn in a thread, the project's full ASGI app) and headless Chromium.

The server shares the test database, so tests using it need committed data
(``asgi_live_server`` pulls in ``transactional_db``).
"""

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("KOKORO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self) -> None:
        import uvicorn

        from kokoro_site.asgi import application

        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            application, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off", ws="websockets-sansio"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="asgi-live-server", daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the ASGI live server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def asgi_live_server(transactional_db, settings) -> Iterator[LiveServer]:
    server = LiveServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        from django.db import connections

        connections.close_all()


@pytest.fixture
def _playwright():
    # Function scope: the sync API keeps an event loop running in this thread while it is
    # open, which would break every async test collected after a browser test.
    if not Path(CHROMIUM).exists():
        from tests.conftest import require

        require(False, f"Chromium is not installed at {CHROMIUM} (run `make setup`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


# Every page reports Content-Security-Policy violations (the policy is in settings.base).
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__kokoroCspViolation({directive: e.violatedDirective, blocked: e.blockedURI,
                               source: e.sourceFile, line: e.lineNumber, sample: e.sample});
});
"""


def watch_csp(context, violations: list) -> None:
    """Record every CSP violation of ``context``'s pages (events and console reports)."""
    context.expose_binding("__kokoroCspViolation", lambda source, v: violations.append(v))
    context.add_init_script(CSP_LISTENER)

    def on_console(message) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            violations.append(message.text)

    context.on("page", lambda page: page.on("console", on_console))


@pytest.fixture
def csp_violations() -> list:
    return []


def wait_for_function_without_eval(page, expression: str, *, arg=None, timeout: float | None = None, polling=None):
    """``Page.wait_for_function`` polls its predicate with eval() inside the page, which the
    site's CSP (no 'unsafe-eval') forbids; this polls from Python instead (``evaluate`` is not
    subject to the page's CSP), with the same expression / function semantics."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    source = expression.strip()
    if source.startswith(("function", "async")) or re.match(r"^(\([^)]*\)|[A-Za-z_$][\w$]*)\s*=>", source):
        check, value = f"(a) => !!(({source})(a))", arg
    else:
        check, value = f"() => !!({source})", None
    deadline = time.monotonic() + (30_000 if timeout is None else timeout) / 1000
    while not page.evaluate(check, value):
        if time.monotonic() > deadline:
            raise PlaywrightTimeoutError(f"wait_for_function timed out: {source}")
        time.sleep(0.05)
    return True


@pytest.fixture
def browser(_playwright, monkeypatch, csp_violations):
    # Playwright's sync API keeps an event loop in this thread; the ORM calls made by the
    # test body itself are still synchronous, so Django's async-safety guard is lifted here only.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import Page

    monkeypatch.setattr(Page, "wait_for_function", wait_for_function_without_eval)
    b = _playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    new_context = b.new_context

    def watched_context(*args, **kwargs):
        context = new_context(*args, **kwargs)
        watch_csp(context, csp_violations)
        return context

    b.new_context = watched_context
    try:
        yield b
    finally:
        b.close()
    # Every browser test runs under the site's CSP: any violation fails it.
    assert csp_violations == [], f"Content-Security-Policy violations: {csp_violations}"


def login(
    browser, base_url: str, user, *, viewport: dict | None = None, locale: str = "ja-JP", timezone_id: str | None = None
):
    """A new browser context already logged in as ``user`` (session cookie, no form round trip)."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    context = browser.new_context(
        viewport=viewport or {"width": 1280, "height": 900}, locale=locale, timezone_id=timezone_id
    )
    context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": base_url}])
    context.set_default_timeout(10_000)
    return context
