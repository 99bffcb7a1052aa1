"""Live coaching in real browsers through the real ASGI server: the counselor turns the panel on and sees it
update after their message; the client's page has no panel and never receives a coaching frame."""

import contextlib

import pytest
from django.conf import settings as django_settings

from models_ml.coaching.models import CoachingSettings
from tests.browser.conftest import login
from tests.factories import SessionFactory

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

PHONE = {"width": 375, "height": 740}
RECORD_COACHING = """
window.__coaching = [];
document.addEventListener("kokoro:session-event", (e) => { if (e.detail && e.detail.type === "coaching") window.__coaching.push(e.detail); });
"""


def _wait_connected(page) -> None:
    page.wait_for_function("document.getElementById('chat-send') && !document.getElementById('chat-send').disabled")


def _worker():
    """A real Celery worker thread in services mode (Redis broker); tasks run inline in embedded mode."""
    if django_settings.CELERY_TASK_ALWAYS_EAGER:
        return contextlib.nullcontext()
    from celery.contrib.testing.worker import start_worker

    from kokoro_site.celery import app

    return start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, queues=["default"])


def test_panel_appears_for_the_counselor_when_enabled_and_never_for_the_client(asgi_live_server, browser, settings):
    settings.KOKORO_COACHING_DEBOUNCE_S = 0
    with _worker():
        _run(asgi_live_server, browser)


def _run(asgi_live_server, browser):
    session = SessionFactory()  # human-human: live coaching is off by default
    url = f"{asgi_live_server.url}/sessions/{session.pk}/"
    counselor_ctx = login(browser, asgi_live_server.url, session.counselor)
    client_ctx = login(browser, asgi_live_server.url, session.client, viewport=PHONE)
    try:
        counselor = counselor_ctx.new_page()
        client = client_ctx.new_page()
        client.add_init_script(RECORD_COACHING)
        counselor.goto(url)
        client.goto(url)
        _wait_connected(counselor)
        _wait_connected(client)
        assert counselor.locator("#coach-panel").is_visible()
        assert counselor.get_attribute("#coach-state", "data-enabled") == "false"
        counselor.click("#coach-toggle")
        counselor.wait_for_selector("#coach-state[data-enabled=true]")
        assert CoachingSettings.objects.get(session=session).enabled

        client.fill("#chat-input", "仕事のことで眠れません。")
        client.click("#chat-send")
        counselor.wait_for_selector("#chat-messages li.msg-theirs >> text=仕事のことで眠れません。")
        counselor.fill("#chat-input", "いつからですか？")
        counselor.click("#chat-send")
        counselor.wait_for_function("document.getElementById('coach-qr').textContent === '100%'")
        assert counselor.inner_text("#coach-status") != ""  # too few messages for a prediction yet
        client.wait_for_selector("#chat-messages li.msg-theirs >> text=いつからですか？")

        client.wait_for_timeout(500)
        assert client.locator("#coach-panel").count() == 0
        assert client.evaluate("window.__coaching.length") == 0
        assert "coaching_live.js" not in client.content()
    finally:
        counselor_ctx.close()
        client_ctx.close()
