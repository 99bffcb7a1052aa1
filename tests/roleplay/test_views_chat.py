import json
import re

import pytest
from django.urls import reverse

from roleplay.models import EndReason, SessionStatus
from roleplay.services.sessions import session_next_url
from tests.factories import MessageFactory, SessionFactory, UserFactory

pytestmark = pytest.mark.django_db

REMINDER_JA = "実際の個人的な悩み"


def _config(response) -> dict:
    html = response.content.decode()
    match = re.search(r'<script id="chat-config" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the page carries its chat config"
    return json.loads(match.group(1))


def test_anonymous_is_sent_to_login(client):
    session = SessionFactory()
    response = client.get(reverse("roleplay:session", args=[session.pk]))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_non_participant_gets_404_not_403(client):
    session = SessionFactory()
    client.force_login(UserFactory())
    assert client.get(reverse("roleplay:session", args=[session.pk])).status_code == 404
    assert client.get(reverse("roleplay:session", args=[session.pk + 1000])).status_code == 404


def test_counselor_gets_desktop_view_with_history_info_and_end_button(client):
    session = SessionFactory(topic="", client_state="不安が強く、眠れていない")
    MessageFactory(session=session, seq=1, role="client", sender=session.client, text="<b>眠れません</b>")
    MessageFactory(session=session, seq=2, role="counselor", sender=session.counselor, text="お話を聞かせてください")
    client.force_login(session.counselor)
    response = client.get(reverse("roleplay:session", args=[session.pk]))
    assert response.status_code == 200
    assert "roleplay/session_counselor.html" in [t.name for t in response.templates]
    html = response.content.decode()
    assert "&lt;b&gt;眠れません&lt;/b&gt;" in html  # escaped, never raw HTML
    assert "<b>眠れません</b>" not in html.split('id="chat-config"')[0]
    assert REMINDER_JA in html
    assert "不安が強く、眠れていない" in html
    assert reverse("roleplay:session_end", args=[session.pk]) in html
    assert html.index('data-seq="1"') < html.index('data-seq="2"')
    config = _config(response)
    assert config["role"] == "counselor" and config["last_seq"] == 2
    assert config["ws_path"] == f"/ws/sessions/{session.pk}/"


def test_client_gets_phone_view_without_end_button(client):
    session = SessionFactory()
    MessageFactory(session=session, seq=1, role="client", sender=session.client, text="相談があります")
    client.force_login(session.client)
    response = client.get(reverse("roleplay:session", args=[session.pk]))
    assert response.status_code == 200
    assert "roleplay/session_client.html" in [t.name for t in response.templates]
    html = response.content.decode()
    assert "chat-phone" in html and REMINDER_JA in html
    assert 'class="msg msg-mine' in html  # own bubble on the right
    assert reverse("roleplay:session_end", args=[session.pk]) not in html


def test_staff_gets_read_only_observer_view(client):
    session = SessionFactory()
    client.force_login(UserFactory(is_staff=True))
    response = client.get(reverse("roleplay:session", args=[session.pk]))
    assert response.status_code == 200
    assert "roleplay/session_observer.html" in [t.name for t in response.templates]
    assert 'id="chat-form"' not in response.content.decode()
    assert _config(response)["role"] == "observer"


def test_overdue_session_is_ended_when_the_page_loads(client):
    from datetime import timedelta

    from django.utils import timezone

    session = SessionFactory(starts_at=timezone.now() - timedelta(minutes=90))
    client.force_login(session.client)
    response = client.get(reverse("roleplay:session", args=[session.pk]))
    session.refresh_from_db()
    assert session.status == SessionStatus.ENDED and session.end_reason == EndReason.TIME_UP
    assert _config(response)["next_url"] == session_next_url(session_id=session.pk, role="client")


def test_counselor_end_button_ends_and_redirects_to_next_page(client):
    session = SessionFactory()
    client.force_login(session.counselor)
    response = client.post(reverse("roleplay:session_end", args=[session.pk]))
    assert response.status_code == 302
    assert response.url == session_next_url(session_id=session.pk, role="counselor")
    session.refresh_from_db()
    assert session.status == SessionStatus.ENDED and session.end_reason == EndReason.COUNSELOR


def test_client_cannot_use_the_end_endpoint(client):
    session = SessionFactory()
    client.force_login(session.client)
    assert client.post(reverse("roleplay:session_end", args=[session.pk])).status_code == 403
    session.refresh_from_db()
    assert session.status == SessionStatus.LIVE


def test_stranger_gets_404_from_end_endpoint_and_get_is_not_allowed(client):
    session = SessionFactory()
    client.force_login(UserFactory())
    assert client.post(reverse("roleplay:session_end", args=[session.pk])).status_code == 404
    client.force_login(session.counselor)
    assert client.get(reverse("roleplay:session_end", args=[session.pk])).status_code == 405
    session.refresh_from_db()
    assert session.status == SessionStatus.LIVE
