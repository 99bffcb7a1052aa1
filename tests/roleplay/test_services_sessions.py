from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from roleplay.models import EndReason, SessionStatus
from roleplay.services.sessions import (
    ERR_END_BEFORE_START,
    ERR_ONLY_COUNSELOR_CAN_END,
    SessionError,
    session_begin,
    session_end,
    session_end_if_overdue,
    session_next_url,
    sessions_end_overdue,
)
from roleplay.signals import session_ended
from tests.factories import SessionFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ended_ids():
    received: list[int] = []

    def receiver(sender, session_id, **kwargs):
        received.append(session_id)

    session_ended.connect(receiver, dispatch_uid="test-sessions-ended")
    yield received
    session_ended.disconnect(dispatch_uid="test-sessions-ended")


def test_end_sets_state_and_signals_after_commit(django_capture_on_commit_callbacks, ended_ids):
    session = SessionFactory()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        session_end(session=session, reason=EndReason.COUNSELOR, by=session.counselor)
    assert ended_ids == []  # nothing is announced before the commit
    for callback in callbacks:
        callback()
    assert ended_ids == [session.pk]
    session.refresh_from_db()
    assert session.status == SessionStatus.ENDED
    assert session.end_reason == EndReason.COUNSELOR
    assert session.ended_at is not None


def test_end_is_idempotent(django_capture_on_commit_callbacks, ended_ids):
    session = SessionFactory()
    with django_capture_on_commit_callbacks(execute=True):
        session_end(session=session, reason=EndReason.COUNSELOR)
    first_end = session.ended_at
    with django_capture_on_commit_callbacks(execute=True) as second:
        session_end(session=session, reason=EndReason.TIME_UP)
    session.refresh_from_db()
    assert second == []
    assert ended_ids == [session.pk]
    assert session.end_reason == EndReason.COUNSELOR and session.ended_at == first_end


def test_only_the_counselor_may_end():
    session = SessionFactory()
    with pytest.raises(SessionError) as exc:
        session_end(session=session, reason=EndReason.COUNSELOR, by=session.client)
    assert exc.value.code == "forbidden" and str(exc.value.message) == str(ERR_ONLY_COUNSELOR_CAN_END)
    session.refresh_from_db()
    assert session.status == SessionStatus.LIVE


def test_begin_only_at_or_after_the_start():
    early = SessionFactory(
        status=SessionStatus.SCHEDULED, starts_at=timezone.now() + timedelta(minutes=5), started_at=None
    )
    due = SessionFactory(
        status=SessionStatus.SCHEDULED, starts_at=timezone.now() - timedelta(seconds=1), started_at=None
    )
    assert session_begin(session=early) is False
    assert session_begin(session=due) is True
    assert session_begin(session=due) is False
    early.refresh_from_db()
    due.refresh_from_db()
    assert early.status == SessionStatus.SCHEDULED and early.started_at is None
    assert due.status == SessionStatus.LIVE and due.started_at is not None


def test_end_if_overdue_only_when_time_is_up():
    running = SessionFactory()
    overdue = SessionFactory(starts_at=timezone.now() - timedelta(minutes=31), duration_minutes=30)
    assert session_end_if_overdue(session=running) is False
    assert session_end_if_overdue(session=overdue) is True
    overdue.refresh_from_db()
    assert overdue.status == SessionStatus.ENDED and overdue.end_reason == EndReason.TIME_UP


def test_end_overdue_sessions_command_ends_only_overdue_live_sessions(ended_ids, django_capture_on_commit_callbacks):
    past = timezone.now() - timedelta(minutes=90)
    overdue = SessionFactory(starts_at=past)
    running = SessionFactory()
    never_started = SessionFactory(status=SessionStatus.SCHEDULED, starts_at=past, started_at=None)
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("end_overdue_sessions", stdout=out)
    assert f"ended 1 session(s): {overdue.pk}" in out.getvalue()
    assert ended_ids == [overdue.pk]
    for s in (overdue, running, never_started):
        s.refresh_from_db()
    assert overdue.status == SessionStatus.ENDED and overdue.end_reason == EndReason.TIME_UP
    assert running.status == SessionStatus.LIVE
    assert never_started.status == SessionStatus.SCHEDULED


def test_celery_task_ends_overdue_sessions():
    from roleplay.tasks import end_overdue_sessions

    overdue = SessionFactory(starts_at=timezone.now() - timedelta(minutes=70))
    assert end_overdue_sessions.run() == [overdue.pk]
    assert sessions_end_overdue() == []


def test_next_url_per_role_falls_back_to_the_session_page():
    session = SessionFactory()
    for role, name in (("client", "feedback:form"), ("counselor", "feedback:result")):
        try:
            expected = reverse(name, args=[session.pk])
        except Exception:
            expected = reverse("roleplay:session", args=[session.pk])
        assert session_next_url(session_id=session.pk, role=role) == expected
    assert session_next_url(session_id=session.pk, role="observer") == reverse("roleplay:session", args=[session.pk])


def test_staff_may_end_as_administrator():
    session = SessionFactory()
    session_end(session=session, reason=EndReason.ADMIN, by=UserFactory(is_staff=True))
    session.refresh_from_db()
    assert session.status == SessionStatus.ENDED and session.end_reason == EndReason.ADMIN


@pytest.mark.parametrize("reason", [EndReason.COUNSELOR, EndReason.ADMIN])
def test_a_session_that_has_not_started_cannot_be_ended(reason, ended_ids, django_capture_on_commit_callbacks):
    session = SessionFactory(
        status=SessionStatus.SCHEDULED, starts_at=timezone.now() + timedelta(minutes=4), started_at=None
    )
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(SessionError) as exc:
        session_end(session=session, reason=reason, by=session.counselor)
    assert exc.value.code == "not_started"
    assert exc.value.message == ERR_END_BEFORE_START
    session.refresh_from_db()
    assert (session.status, session.ended_at, session.end_reason) == (SessionStatus.SCHEDULED, None, "")
    assert ended_ids == []


def test_the_end_view_refuses_before_the_start_and_says_why(client):
    session = SessionFactory(
        status=SessionStatus.SCHEDULED, starts_at=timezone.now() + timedelta(minutes=4), started_at=None
    )
    client.force_login(session.counselor)
    response = client.post(reverse("roleplay:session_end", args=[session.pk]), follow=True)
    assert str(ERR_END_BEFORE_START) in response.content.decode()
    session.refresh_from_db()
    assert session.status == SessionStatus.SCHEDULED
