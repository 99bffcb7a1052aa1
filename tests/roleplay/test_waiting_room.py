"""Waiting room: start-now service and view, the dashboard label, the waiting panel of the room."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from roleplay.models import SessionStatus
from roleplay.selectors.scheduling import session_card
from roleplay.services.sessions import (
    ERR_START_NOW_NOT_COUNSELOR,
    ERR_START_NOW_NOT_WAITING,
    SessionError,
    session_start_early,
)
from tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


def _scheduled(minutes_ahead: float = 3, **kwargs):
    return SessionFactory(
        status=SessionStatus.SCHEDULED,
        starts_at=timezone.now() + timedelta(minutes=minutes_ahead),
        started_at=None,
        **kwargs,
    )


def test_counselor_starts_early_and_the_session_keeps_its_length(django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr("roleplay.services.sessions.session_notify", lambda **kw: sent.append(kw))
    session = _scheduled(3)
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        session_start_early(session=session, by=session.counselor)
    session.refresh_from_db()
    assert session.status == SessionStatus.LIVE
    assert before <= session.started_at == session.starts_at <= timezone.now()
    assert session.ends_at == session.starts_at + timedelta(minutes=60)
    assert sent[0]["event"]["type"] == "started"
    assert sent[0]["event"]["ends_at"] == session.ends_at.isoformat()


@pytest.mark.parametrize(
    ("case", "code"),
    [("client", "forbidden"), ("too_early", "too_early"), ("live", "not_waiting"), ("cancelled", "not_waiting")],
)
def test_start_now_refusals_change_nothing(case, code):
    session = _scheduled(30 if case == "too_early" else 3)
    if case in ("live", "cancelled"):
        session.status = SessionStatus.LIVE if case == "live" else SessionStatus.CANCELLED
        session.save()
    starts_at = session.starts_at
    by = session.client if case == "client" else session.counselor
    with pytest.raises(SessionError) as exc:
        session_start_early(session=session, by=by)
    assert exc.value.code == code
    if case == "client":
        assert exc.value.message == ERR_START_NOW_NOT_COUNSELOR
    if code == "not_waiting":
        assert exc.value.message == ERR_START_NOW_NOT_WAITING
    session.refresh_from_db()
    assert session.starts_at == starts_at and session.started_at is None


def test_start_now_view_is_for_the_counselor_only(client):
    session = _scheduled(3)
    client.force_login(session.client)
    assert client.post(reverse("roleplay:session_start_now", args=[session.pk])).status_code == 403
    client.force_login(session.counselor)
    response = client.post(reverse("roleplay:session_start_now", args=[session.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("roleplay:session", args=[session.pk])
    session.refresh_from_db()
    assert session.status == SessionStatus.LIVE


def test_dashboard_says_waiting_room_until_the_start_then_join_now(client):
    session = _scheduled(4)
    card = session_card(session=session, user=session.client)
    assert card.can_join and card.waiting
    client.force_login(session.client)
    client.cookies.load({"django_language": "en"})
    html = client.get(reverse("roleplay:dashboard_upcoming")).content.decode()
    assert "Waiting room" in html and "Join now" not in html
    session.status, session.started_at = SessionStatus.LIVE, timezone.now()
    session.save()
    html = client.get(reverse("roleplay:dashboard_upcoming")).content.decode()
    assert "Join now" in html and "Waiting room" not in html


def test_room_shows_the_waiting_panel_before_the_start_only(client):
    session = _scheduled(4)
    client.force_login(session.counselor)
    client.cookies.load({"django_language": "en"})
    html = client.get(reverse("roleplay:session", args=[session.pk])).content.decode()
    assert 'id="chat-waiting" aria-labelledby="waiting-title">' in html
    assert 'id="chat-start-now"' in html
    live = SessionFactory(counselor=session.counselor)
    html = client.get(reverse("roleplay:session", args=[live.pk])).content.decode()
    assert 'id="chat-waiting" aria-labelledby="waiting-title" hidden>' in html
