"""Dashboard card, start and retry endpoints, and the AI session page."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from models_ml.practice.models import GenerationState, PracticeSession
from models_ml.practice.services import (
    ERR_NO_PARTNER,
    ERR_NOT_PRACTICE,
    ERR_ROLE_CARD_UNAVAILABLE,
    practice_session_start,
)
from roleplay.models import Session, SessionSource
from roleplay.services.chat import message_create
from roleplay.services.sessions import session_next_url
from tests.factories import SessionFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def trainee_client(client):
    user = UserFactory()
    client.force_login(user)
    client.user = user
    return client


def test_dashboard_offers_both_ai_partners_with_the_active_role_cards(trainee_client, role_card, ready):
    response = trainee_client.get(reverse("roleplay:dashboard"))
    page = response.content.decode()
    assert 'id="practice-card"' in page
    assert "AIと練習する" in page  # Japanese first
    assert role_card.name in page
    assert 'name="ai_role" value="client"' in page and 'name="ai_role" value="counselor"' in page
    assert "disabled" not in _practice_card(page) and 'id="practice-unavailable"' not in page


def _practice_card(page: str) -> str:
    return page[page.index('id="practice-card"') : page.index("</section>", page.index('id="practice-card"'))]


@pytest.mark.parametrize("staff", [False, True])
def test_dashboard_says_why_ai_practice_cannot_start_yet_and_who_can_fix_it(client, role_card, staff):
    client.force_login(UserFactory(is_staff=staff))
    card = _practice_card(client.get(reverse("roleplay:dashboard")).content.decode())
    assert card.count("disabled") == 2 and 'id="practice-unavailable"' in card
    assert "AIパートナーはまだ準備できていません" in card
    assert (reverse("partners:models") in card) is staff
    assert ("管理者にお問い合わせください" in card) is not staff


def test_a_forged_start_while_no_partner_is_ready_is_refused_with_the_reason(trainee_client, role_card):
    response = trainee_client.post(reverse("practice:start"), {"ai_role": "client"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("roleplay:dashboard")
    assert str(ERR_NO_PARTNER) in [str(m) for m in response.context["messages"]]
    assert not Session.objects.filter(source=SessionSource.AI).exists()


def test_start_redirects_to_the_new_ai_session_page_with_the_practice_script(trainee_client, role_card, ready):
    response = trainee_client.post(reverse("practice:start"), {"ai_role": "client", "role_card": role_card.pk})
    session = Session.objects.get(source=SessionSource.AI)
    assert response.status_code == 302 and response.url == reverse("roleplay:session", args=[session.pk])
    page = trainee_client.get(response.url).content.decode()
    assert 'id="practice-config"' in page and "practice_chat.js" in page
    assert "AIクライアント（" in page  # the partner's name in the chat header


def test_human_session_pages_do_not_load_the_practice_script(trainee_client):
    session = SessionFactory(counselor=trainee_client.user)
    page = trainee_client.get(reverse("roleplay:session", args=[session.pk])).content.decode()
    assert "practice-config" not in page


def test_start_with_an_unknown_role_card_shows_the_error_and_creates_nothing(trainee_client):
    response = trainee_client.post(reverse("practice:start"), {"ai_role": "client", "role_card": 424242}, follow=True)
    assert str(ERR_ROLE_CARD_UNAVAILABLE) in response.content.decode()
    assert not Session.objects.exists()


def test_start_with_a_bad_role_is_refused(trainee_client):
    response = trainee_client.post(reverse("practice:start"), {"ai_role": "robot"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("roleplay:dashboard")
    assert not Session.objects.exists()


def test_start_needs_a_login_and_a_post(client, role_card):
    response = client.post(reverse("practice:start"), {"ai_role": "client"})
    assert response.status_code == 302 and "/login" in response.url
    assert not Session.objects.exists()
    client.force_login(UserFactory())
    assert client.get(reverse("practice:start")).status_code == 405


def test_retry_by_a_stranger_is_not_found_and_changes_nothing(client, role_card, ready):
    session = practice_session_start(user=UserFactory(), ai_role="client", role_card_id=role_card.pk)
    PracticeSession.objects.filter(session=session).update(state=GenerationState.ERROR, last_error="x")
    client.force_login(UserFactory())
    response = client.post(reverse("practice:retry", args=[session.pk]))
    assert response.status_code == 404 and response.json()["message"] == str(ERR_NOT_PRACTICE)
    assert PracticeSession.objects.get(session=session).state == GenerationState.ERROR


def test_ai_session_page_shows_a_stored_error_with_its_retry_url(trainee_client, role_card, ready):
    session = practice_session_start(user=trainee_client.user, ai_role="client", role_card_id=role_card.pk)
    PracticeSession.objects.filter(session=session).update(state=GenerationState.ERROR, last_error="接続できません")
    page = trainee_client.get(reverse("roleplay:session", args=[session.pk])).content.decode()
    config = json.loads(re.search(r'<script id="practice-config" type="application/json">(.*?)</script>', page)[1])
    assert config["state"] == "error" and config["last_error"] == "接続できません"
    assert config["retry_url"] == reverse("practice:retry", args=[session.pk]) and config["can_retry"] is True
    assert config["ai_role"] == "client" and config["i18n"]["retry"] == "もう一度試す"


def test_trainee_client_can_end_an_ai_counselor_session_and_goes_to_the_feedback(trainee_client, openai_server):
    from .conftest import model_version

    version = model_version(kind="counselor", backend="openai", config={"base_url": openai_server, "model": "m"})
    session = practice_session_start(user=trainee_client.user, ai_role="counselor", model_version_id=version.pk)
    page = trainee_client.get(reverse("roleplay:session", args=[session.pk])).content.decode()
    assert 'id="practice-end-form"' in page and "練習を終える" in page
    message_create(session_id=session.pk, user=trainee_client.user, text="よろしくお願いします。", rate_limit=False)
    response = trainee_client.post(reverse("practice:end", args=[session.pk]))
    session.refresh_from_db()
    assert session.status == "ended" and session.end_reason == "counselor"
    assert response.status_code == 302
    assert response.url == session_next_url(session_id=session.pk, role="client")


def test_only_the_trainee_can_end_an_ai_session(client, role_card, ready):
    session = practice_session_start(user=UserFactory(), ai_role="client", role_card_id=role_card.pk)
    client.force_login(UserFactory())
    assert client.post(reverse("practice:end", args=[session.pk])).status_code == 404
    session.refresh_from_db()
    assert session.status == "live"
