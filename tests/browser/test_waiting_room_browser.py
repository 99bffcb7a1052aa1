"""Waiting room in two real browsers: the draft is kept before the start, the counselor starts early."""

from datetime import timedelta

import pytest
from django.utils import timezone

from roleplay.models import Message, SessionStatus
from tests.browser.conftest import login
from tests.factories import SessionFactory

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

PHONE = {"width": 390, "height": 844}


def test_waiting_room_keeps_the_draft_and_the_counselor_starts_now(asgi_live_server, browser):
    session = SessionFactory(
        status=SessionStatus.SCHEDULED, starts_at=timezone.now() + timedelta(minutes=4), started_at=None
    )
    url = f"{asgi_live_server.url}/sessions/{session.pk}/"
    client_ctx = login(browser, asgi_live_server.url, session.client, viewport=PHONE, locale="en-US")
    counselor_ctx = login(browser, asgi_live_server.url, session.counselor, locale="en-US")
    client_ctx.add_cookies([{"name": "django_language", "value": "en", "url": asgi_live_server.url}])
    counselor_ctx.add_cookies([{"name": "django_language", "value": "en", "url": asgi_live_server.url}])
    try:
        client = client_ctx.new_page()
        client.goto(url)
        client.wait_for_selector("#chat-conn[data-ok=true]")
        assert client.locator("#chat-waiting").is_visible()
        assert "Starts in" in client.inner_text("#waiting-countdown")
        # Enter before the start: nothing is sent, nothing is lost, and the page says why.
        client.fill("#chat-input", "Hello, I am here early")
        client.press("#chat-input", "Enter")
        assert client.input_value("#chat-input") == "Hello, I am here early"
        assert client.locator("#chat-send").is_disabled()
        assert "Sending opens when the session starts" in client.inner_text("#chat-composer-reason")
        assert client.locator("#chat-start-now").count() == 0  # the client has no start button

        counselor = counselor_ctx.new_page()
        counselor.goto(url)
        counselor.wait_for_selector("#arrival-partner[data-online=true]")
        client.wait_for_selector("#arrival-partner[data-online=true]")
        assert counselor.locator("#chat-end-form").is_hidden()  # no ending before the start
        counselor.click("#chat-start-now button")
        client.wait_for_selector("#chat-waiting", state="hidden")
        client.wait_for_function("!document.getElementById('chat-send').disabled")
        assert client.locator("#chat-composer-reason").is_hidden()
        client.click("#chat-send")
        counselor.wait_for_selector("#chat-messages li.msg-theirs >> text=Hello, I am here early")
        assert Message.objects.filter(session=session).count() == 1
        session.refresh_from_db()
        assert session.status == SessionStatus.LIVE and session.started_at is not None
    finally:
        client_ctx.close()
        counselor_ctx.close()
