"""Where an AI practice session ends: the review page after an AI client (no wait for feedback), the optional
feedback form after an AI counselor (fill in or skip), and leaving a practice session at any time."""

from __future__ import annotations

import pytest
from django.urls import reverse

from feedback.items import ITEM_FIELDS
from feedback.models import Feedback
from models_ml.coaching.models import SuggestionRun
from models_ml.practice.services import practice_session_start
from roleplay.services.chat import message_create
from roleplay.services.sessions import session_next_url
from tests.factories import UserFactory

from .conftest import model_version

pytestmark = pytest.mark.django_db

TRAINEE_LINES = ["こんにちは。今日はどうされましたか。", "それはおつらいですね。もう少し聞かせてください。"]
AI_LINES = ["最近、眠れなくて困っています。", "仕事のことが頭から離れないんです。"]
WAITING = "クライアント役からの評価を待っています"


@pytest.fixture
def trainee(client):
    user = UserFactory()
    client.force_login(user)
    client.user = user
    return client


def _ai_client_session(trainee, role_card):
    session = practice_session_start(user=trainee.user, ai_role="client", role_card_id=role_card.pk)
    for mine, theirs in zip(TRAINEE_LINES, AI_LINES, strict=True):
        message_create(session_id=session.pk, user=trainee.user, text=mine, rate_limit=False)
        message_create(session_id=session.pk, user=session.client, text=theirs, rate_limit=False)
    return session


def test_after_an_ai_client_session_the_counselor_lands_on_the_review_page(trainee, role_card, ready):
    session = _ai_client_session(trainee, role_card)
    review = reverse("practice:review", args=[session.pk])
    assert session_next_url(session_id=session.pk, role="counselor") == review
    assert session_next_url(session_id=session.pk, role="client") == reverse("feedback:form", args=[session.pk])
    # The chat's "End session" (the no-JS fallback; the socket's "ended" frame carries the same next_url)
    response = trainee.post(reverse("roleplay:session_end", args=[session.pk]))
    assert response.status_code == 302 and response.url == review
    page = trainee.get(review).content.decode()
    assert "練習のふりかえり" in page and WAITING not in page  # Japanese first, nothing to wait for
    assert 'id="ml-prediction"' in page  # the auto-scorer's panel (predicted 20 items and total)
    assert 'id="coach-timeline"' in page and all(line in page for line in TRAINEE_LINES + AI_LINES)
    assert SuggestionRun.objects.filter(session=session).exists()  # the coaching timeline is being computed
    assert 'id="practice-transcript"' not in page  # the timeline shows the transcript already


def test_the_result_page_of_an_ai_client_session_sends_the_counselor_to_the_review(trainee, role_card, ready):
    session = _ai_client_session(trainee, role_card)
    trainee.post(reverse("roleplay:session_end", args=[session.pk]))
    response = trainee.get(reverse("feedback:result", args=[session.pk]))
    assert response.status_code == 302 and response.url == reverse("practice:review", args=[session.pk])


def test_a_human_role_play_keeps_its_result_page(trainee):
    from tests.factories import SessionFactory

    session = SessionFactory(counselor=trainee.user, status="ended")
    assert session_next_url(session_id=session.pk, role="counselor") == reverse("feedback:result", args=[session.pk])
    page = trainee.get(reverse("feedback:result", args=[session.pk])).content.decode()
    assert WAITING in page


def test_review_of_a_live_session_goes_back_to_the_chat_and_strangers_get_404(client, trainee, role_card, ready):
    session = _ai_client_session(trainee, role_card)
    response = trainee.get(reverse("practice:review", args=[session.pk]))
    assert response.status_code == 302 and response.url == reverse("roleplay:session", args=[session.pk])
    client.force_login(UserFactory())
    assert client.get(reverse("practice:review", args=[session.pk])).status_code == 404


def test_the_review_page_shows_the_transcript_without_the_coaching_panel(trainee, role_card, ready, monkeypatch):
    from kokoro_site import panels

    registry = {slot: dict(found) for slot, found in panels._PANELS.items()}
    registry["practice.review"].clear()
    monkeypatch.setattr(panels, "_PANELS", registry)
    session = _ai_client_session(trainee, role_card)
    trainee.post(reverse("roleplay:session_end", args=[session.pk]))
    page = trainee.get(reverse("practice:review", args=[session.pk])).content.decode()
    assert 'id="practice-transcript"' in page and all(line in page for line in TRAINEE_LINES + AI_LINES)


def _ai_counselor_session(trainee, openai_server):
    version = model_version(kind="counselor", backend="openai", config={"base_url": openai_server, "model": "m"})
    session = practice_session_start(user=trainee.user, ai_role="counselor", model_version_id=version.pk)
    message_create(session_id=session.pk, user=session.counselor, text="こんにちは。相談員です。", rate_limit=False)
    message_create(session_id=session.pk, user=trainee.user, text="よろしくお願いします。", rate_limit=False)
    response = trainee.post(reverse("practice:end", args=[session.pk]))  # "End practice", at any time
    assert response.url == reverse("feedback:form", args=[session.pk])
    return session


def test_after_an_ai_counselor_session_the_feedback_form_is_optional_and_stored(trainee, openai_server):
    session = _ai_counselor_session(trainee, openai_server)
    page = trainee.get(reverse("feedback:form", args=[session.pk])).content.decode()
    assert 'id="practice-feedback-optional"' in page and "評価は任意です" in page
    assert f'id="practice-skip-feedback" href="{reverse("roleplay:dashboard")}"' in page
    data = {field: "4" for field in ITEM_FIELDS}
    response = trainee.post(reverse("feedback:form", args=[session.pk]), data)
    assert response.status_code == 302
    feedback = Feedback.objects.get(session=session)
    assert feedback.total == 80 and feedback.session.is_synthetic and feedback.session.source == "ai"


def test_skipping_the_optional_feedback_leaves_nothing_behind(trainee, openai_server):
    session = _ai_counselor_session(trainee, openai_server)
    response = trainee.get(reverse("roleplay:dashboard"))  # the skip link
    assert response.status_code == 200 and not Feedback.objects.filter(session=session).exists()


def test_human_sessions_show_no_optional_note_on_the_feedback_form(client, ready):
    session = ready.session  # a held human role-play; its feedback removed so the form opens
    ready.delete()
    client.force_login(session.client)
    page = client.get(reverse("feedback:form", args=[session.pk])).content.decode()
    assert 'id="fb-form"' in page and 'id="practice-feedback-optional"' not in page


def test_leaving_before_saying_anything_goes_back_to_the_dashboard(trainee, openai_server):
    version = model_version(kind="counselor", backend="openai", config={"base_url": openai_server, "model": "m"})
    session = practice_session_start(user=trainee.user, ai_role="counselor", model_version_id=version.pk)
    response = trainee.post(reverse("practice:end", args=[session.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("roleplay:dashboard")
    assert "発言する前に練習セッションを終えた" in response.content.decode()
    session.refresh_from_db()
    assert session.status == "ended"
