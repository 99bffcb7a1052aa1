"""Two real browsers chat through the real ASGI server (uvicorn + the project's routing)."""

import pytest

from roleplay.models import Message
from tests.browser.conftest import login
from tests.factories import SessionFactory

# asgi_live_server brings transactional_db (a django_db marker would tear the DB down too late).
pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

PHONE = {"width": 375, "height": 740}


def _send(page, text: str) -> None:
    page.fill("#chat-input", text)
    page.click("#chat-send")


def _wait_connected(page) -> None:
    page.wait_for_function("document.getElementById('chat-send') && !document.getElementById('chat-send').disabled")


def test_two_participants_chat_both_ways_and_history_survives_reload(asgi_live_server, browser):
    session = SessionFactory()
    url = f"{asgi_live_server.url}/sessions/{session.pk}/"
    counselor_ctx = login(browser, asgi_live_server.url, session.counselor)
    client_ctx = login(browser, asgi_live_server.url, session.client, viewport=PHONE)
    try:
        counselor = counselor_ctx.new_page()
        client = client_ctx.new_page()
        counselor.goto(url)
        client.goto(url)
        _wait_connected(counselor)
        _wait_connected(client)
        assert "個人を特定できる情報" in client.inner_text("[data-testid=privacy-reminder]")
        assert client.locator("#chat-ended").is_hidden()  # only shown once the session has ended
        counselor.wait_for_selector("#chat-presence[data-online=true]")

        _send(client, "最近、仕事のことで眠れなくて…")
        counselor.wait_for_selector("#chat-messages li.msg-theirs >> text=最近、仕事のことで眠れなくて…")
        # Keyboard: Enter sends on the desktop view.
        counselor.fill("#chat-input", "それはおつらいですね。")
        counselor.press("#chat-input", "Enter")
        client.wait_for_selector("#chat-messages li.msg-theirs >> text=それはおつらいですね。")
        _send(client, "<script>alert(1)</script>")
        counselor.wait_for_selector("#chat-messages li >> text=<script>alert(1)</script>")

        # The client view fits a 375 px phone: no horizontal scrolling.
        assert client.evaluate("document.documentElement.scrollWidth") <= 375
        # Own bubbles are on the right (green) in the phone view.
        own = client.locator("#chat-messages li.msg-mine").first.bounding_box()
        theirs = client.locator("#chat-messages li.msg-theirs").first.bounding_box()
        assert own is not None and theirs is not None

        client.reload()
        _wait_connected(client)
        texts = client.locator("#chat-messages li[data-seq] .bubble").all_inner_texts()
        assert texts == ["最近、仕事のことで眠れなくて…", "それはおつらいですね。", "<script>alert(1)</script>"]
        seqs = client.locator("#chat-messages li[data-seq]").evaluate_all("els => els.map(e => Number(e.dataset.seq))")
        assert seqs == [1, 2, 3]
        assert Message.objects.filter(session=session).count() == 3

        # The counselor ends the session: both are sent on.
        counselor.on("dialog", lambda dialog: dialog.accept())
        counselor.click("#chat-end")
        client.wait_for_selector("#chat-ended", state="visible")
        assert client.locator("#chat-form").is_hidden()
        session.refresh_from_db()
        assert session.status == "ended"
    finally:
        counselor_ctx.close()
        client_ctx.close()


def test_page_reconnects_by_itself_and_fills_the_gap_in_order(asgi_live_server, browser):
    session = SessionFactory()
    url = f"{asgi_live_server.url}/sessions/{session.pk}/"
    counselor_ctx = login(browser, asgi_live_server.url, session.counselor)
    client_ctx = login(browser, asgi_live_server.url, session.client, viewport=PHONE)
    try:
        counselor = counselor_ctx.new_page()
        client = client_ctx.new_page()
        counselor.goto(url)
        client.goto(url)
        _wait_connected(counselor)
        _wait_connected(client)
        client.evaluate("window.kokoroChat.drop()")
        for i in range(1, 4):
            _send(counselor, f"途切れている間のメッセージ{i}")
        client.wait_for_function("window.kokoroChat.connections() >= 2 && window.kokoroChat.lastSeq() === 3")
        texts = client.locator("#chat-messages li[data-seq] .bubble").all_inner_texts()
        assert texts == [f"途切れている間のメッセージ{i}" for i in range(1, 4)]
        _wait_connected(client)
        _send(client, "戻りました")
        counselor.wait_for_selector("#chat-messages li.msg-theirs >> text=戻りました")
        assert list(Message.objects.filter(session=session).values_list("seq", flat=True)) == [1, 2, 3, 4]
    finally:
        counselor_ctx.close()
        client_ctx.close()


def test_live_messages_show_the_same_site_time_zone_as_the_reloaded_history(asgi_live_server, browser):
    from django.utils import timezone

    session = SessionFactory()
    url = f"{asgi_live_server.url}/sessions/{session.pk}/"
    # A browser on the other side of the world from the site's Asia/Tokyo.
    counselor_ctx = login(browser, asgi_live_server.url, session.counselor, timezone_id="America/Los_Angeles")
    try:
        page = counselor_ctx.new_page()
        page.goto(url)
        _wait_connected(page)
        _send(page, "こんにちは。")
        page.wait_for_selector("#chat-messages li[data-seq] >> text=こんにちは。")
        stored = Message.objects.get(session=session)
        expected = timezone.localtime(stored.created_at).strftime("%H:%M")
        assert page.locator("#chat-messages li[data-seq] .msg-time").first.inner_text() == expected
        page.reload()
        _wait_connected(page)
        assert page.locator("#chat-messages li[data-seq] .msg-time").first.inner_text() == expected
    finally:
        counselor_ctx.close()
