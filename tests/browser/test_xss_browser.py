"""Stored script payloads never run in a real browser: chat (history and live frames), dataset
transcript, feedback result and monitoring pages. ``window.__xss`` stays undefined."""

import pytest
from django.utils import timezone

from feedback.items import SCREENINGS
from roleplay.models import SessionStatus
from tests.browser.conftest import login
from tests.factories import FeedbackFactory, MessageFactory, SessionFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

PAYLOAD = "<script>window.__xss=1</script><img src=x onerror=window.__xss=1>"
NAME = "<img src=x onerror=window.__xss=2>"


def _assert_clean(page) -> None:
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)  # an onerror handler of a broken <img> would have fired by now
    assert page.evaluate("typeof window.__xss") == "undefined"


@pytest.fixture
def sessions():
    counselor, client = UserFactory(), UserFactory()
    for user in (counselor, client):
        user.profile.display_name = NAME
        user.profile.save()
    both = {"counselor": counselor, "client": client, "topic_sub": PAYLOAD, "client_state": PAYLOAD}
    live = SessionFactory(**both)
    rated = SessionFactory(**both, status=SessionStatus.ENDED, ended_at=timezone.now())
    for session in (live, rated):
        MessageFactory(session=session, seq=1, role="counselor", sender=counselor, text=PAYLOAD)
        session.last_seq = 1
        session.save()
    FeedbackFactory(session=rated, **{SCREENINGS[0].field: True})
    return {"live": live, "rated": rated, "counselor": counselor, "client": client}


def test_payloads_in_chat_history_and_live_frames_do_not_run(asgi_live_server, browser, sessions):
    live = sessions["live"]
    url = f"{asgi_live_server.url}/sessions/{live.pk}/"
    counselor_ctx = login(browser, asgi_live_server.url, sessions["counselor"])
    client_ctx = login(browser, asgi_live_server.url, sessions["client"], viewport={"width": 375, "height": 740})
    try:
        counselor, client = counselor_ctx.new_page(), client_ctx.new_page()
        counselor.goto(url)
        client.goto(url)
        for page in (counselor, client):
            page.wait_for_function(
                "document.getElementById('chat-send') && !document.getElementById('chat-send').disabled"
            )
        # A live frame (rendered by chat.js) carrying the payload.
        client.fill("#chat-input", PAYLOAD)
        client.click("#chat-send")
        counselor.wait_for_function(
            "[...document.querySelectorAll('#chat-messages li.msg-theirs .bubble')]"
            ".some(b => b.textContent.includes('window.__xss=1'))"
        )
        for page in (counselor, client):
            _assert_clean(page)
            # Shown as text, not as elements.
            assert page.locator("#chat-messages img").count() == 0
            assert page.locator("#chat-messages script").count() == 0
    finally:
        counselor_ctx.close()
        client_ctx.close()


def test_payloads_in_staff_and_result_pages_do_not_run(asgi_live_server, browser, sessions):
    rated = sessions["rated"]
    staff = UserFactory(is_staff=True)
    staff_ctx = login(browser, asgi_live_server.url, staff)
    counselor_ctx = login(browser, asgi_live_server.url, sessions["counselor"])
    base = asgi_live_server.url
    try:
        page = staff_ctx.new_page()
        for path in (
            f"/dataset/sessions/{rated.pk}/",
            "/dataset/sessions/",
            f"/feedback/sessions/{rated.pk}/result/",
            "/feedback/monitoring/",
            "/feedback/",
            f"/sessions/{rated.pk}/",
        ):
            response = page.goto(base + path)
            assert response.status == 200, path
            _assert_clean(page)
        own = counselor_ctx.new_page()
        own.goto(f"{base}/feedback/sessions/{rated.pk}/result/")
        _assert_clean(own)
        own.goto(f"{base}/")
        _assert_clean(own)
    finally:
        staff_ctx.close()
        counselor_ctx.close()
