"""A trainee practises with the AI client in a real browser (real ASGI server, retrieval fallback partner)."""

import pytest

from models_ml.finetuning.models import RoleCard
from roleplay.models import Message, Role, SessionSource
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
