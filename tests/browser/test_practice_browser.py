"""A trainee practises with the AI client in a real browser (real ASGI server, retrieval fallback partner)."""

import pytest

from models_ml.finetuning.models import RoleCard
from roleplay.models import Message, Role, Session, SessionSource
from tests.browser.conftest import login
from tests.factories import UserFactory
from tests.models_ml.finetuning.conftest import make_scored_session
from tests.models_ml.practice.conftest import CARD

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

WATCH_PROVISIONAL = """() => {
  window.__sawProvisional = false;
  new MutationObserver((records) => {
    for (const r of records) for (const n of r.addedNodes)
      if (n.classList && n.classList.contains("msg-provisional")) window.__sawProvisional = true;
  }).observe(document.getElementById("chat-messages"), { childList: true });
}"""


@pytest.fixture
def practice_settings(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True  # no worker here: the embedded background thread answers
    settings.KOKORO_PRACTICE_EMBEDDED_THREAD = True
    settings.KOKORO_PRACTICE_DEBOUNCE_S = 0.2
    settings.KOKORO_PRACTICE_STREAM_DELAY_S = 0.05


def test_trainee_starts_an_ai_client_session_from_the_dashboard_and_sees_the_reply_stream_in(
    asgi_live_server, browser, practice_settings
):
    for i, score in enumerate([85, 90, 78, 88]):
        make_scored_session(i, score)  # the retrieval partner is built from these on first use
    RoleCard.objects.create(**CARD)
    trainee = UserFactory()
    ctx = login(browser, asgi_live_server.url, trainee)
    try:
        page = ctx.new_page()
        page.goto(f"{asgi_live_server.url}/")
        page.click("#practice-ai-client button[type=submit]")
        page.wait_for_url("**/sessions/*/")
        assert "AIクライアント（" in page.inner_text("#chat-title")
        page.wait_for_function("!document.getElementById('chat-send').disabled")
        page.evaluate(WATCH_PROVISIONAL)
        page.fill("#chat-input", "こんにちは。今日はどのようなことでご相談にいらっしゃいましたか。")
        page.click("#chat-send")
        reply = page.wait_for_selector("#chat-messages li.msg-theirs.msg-client[data-seq='2']", timeout=30_000)
        text = reply.inner_text()
        assert page.evaluate("window.__sawProvisional") is True  # the reply streamed in before it was stored
        assert page.locator("#chat-messages li.msg-provisional").count() == 0  # replaced by the stored message
        stored = Message.objects.get(session__source=SessionSource.AI, role=Role.CLIENT)
        assert stored.text in text and stored.seq == 2
        assert page.locator("#practice-status").is_hidden()
    finally:
        ctx.close()


def _partner_data() -> None:
    for i, score in enumerate([85, 90, 78, 88]):
        make_scored_session(i, score)  # the retrieval partners are built from these on first use
    RoleCard.objects.create(**CARD)


def test_ai_client_practice_ends_on_the_review_page_without_waiting_for_feedback(
    asgi_live_server, browser, practice_settings
):
    _partner_data()
    trainee = UserFactory()
    ctx = login(browser, asgi_live_server.url, trainee)
    try:
        page = ctx.new_page()
        page.goto(f"{asgi_live_server.url}/")
        page.click("#practice-ai-client button[type=submit]")
        page.wait_for_url("**/sessions/*/")
        page.wait_for_function("!document.getElementById('chat-send').disabled")
        page.fill("#chat-input", "こんにちは。今日はどのようなことでご相談にいらっしゃいましたか。")
        page.click("#chat-send")
        page.wait_for_selector("#chat-messages li.msg-theirs.msg-client[data-seq='2']", timeout=30_000)
        page.on("dialog", lambda dialog: dialog.accept())  # "End the session?"
        page.click("#chat-end")
        page.wait_for_url("**/ml/practice/*/review/", timeout=20_000)
        session = Session.objects.get(source=SessionSource.AI)
        assert session.status == "ended"
        assert "練習のふりかえり" in page.inner_text("h1")
        body = page.inner_text("main")
        assert "クライアント役からの評価を待っています" not in body
        assert page.locator("#ml-prediction").count() == 1  # the predicted 20 items and total (or why not yet)
        page.wait_for_selector("#coach-timeline li[data-seq='2']")  # the transcript with the coaching timeline
        stored = Message.objects.get(session=session, role=Role.CLIENT)
        assert stored.text in page.inner_text("#coach-timeline")
        # the result page (history, bookmarks) leads here too instead of waiting forever
        page.goto(f"{asgi_live_server.url}/feedback/sessions/{session.pk}/result/")
        page.wait_for_url(f"**/ml/practice/{session.pk}/review/")
    finally:
        ctx.close()


@pytest.mark.parametrize("fill", [True, False], ids=["fill", "skip"])
def test_ai_counselor_practice_offers_the_feedback_form_to_fill_or_skip(
    asgi_live_server, browser, practice_settings, fill
):
    from feedback.items import ITEM_FIELDS
    from feedback.models import Feedback

    _partner_data()
    trainee = UserFactory()
    ctx = login(browser, asgi_live_server.url, trainee)
    try:
        page = ctx.new_page()
        page.goto(f"{asgi_live_server.url}/")
        page.click("#practice-ai-counselor button[type=submit]")
        page.wait_for_url("**/sessions/*/")
        page.wait_for_selector("#chat-messages li.msg-theirs.msg-counselor[data-seq='1']", timeout=30_000)
        page.wait_for_function("!document.getElementById('chat-send').disabled")
        page.fill("#chat-input", "よろしくお願いします。最近眠れなくて。")
        page.click("#chat-send")
        page.wait_for_selector("#chat-messages li.msg-mine[data-seq='2']")
        page.click("#practice-end")  # the AI counselor's session can be left at any time
        page.wait_for_url("**/feedback/sessions/*/", timeout=20_000)
        session = Session.objects.get(source=SessionSource.AI)
        assert session.status == "ended"
        assert "評価は任意です" in page.inner_text("#practice-feedback-optional")
        if fill:
            for field in ITEM_FIELDS:
                page.check(f"input[name='{field}'][value='4']")
            page.click("#fb-submit")
            page.wait_for_load_state()
            feedback = Feedback.objects.get(session=session)
            assert feedback.total == 80 and session.is_synthetic  # stored on the synthetic session
        else:
            page.click("#practice-skip-feedback")
            page.wait_for_selector("#practice-card")
            assert not Feedback.objects.filter(session=session).exists()
    finally:
        ctx.close()
