"""roleplay owns sessions and messages: the services other apps (AI practice, simulations, seed data)
create sessions, append messages and end sessions through."""

from datetime import timedelta

import pytest
from django.utils import timezone

from roleplay.models import EndReason, Message, Session, SessionSource, SessionStatus
from roleplay.services.chat import ERR_MESSAGE_TOO_LONG, ChatError, message_create, messages_record
from roleplay.services.sessions import (
    ERR_BAD_PAST_TIMES,
    SessionError,
    session_create_ended,
    session_end,
    session_start_now,
    session_topic_set,
)
from roleplay.signals import session_ended
from tests.factories import SessionFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_session_start_now_is_live_from_now_with_the_default_duration(settings):
    settings.KOKORO_DEFAULT_SESSION_MINUTES = 45
    before = timezone.now()
    session = session_start_now(
        counselor=UserFactory(), client=UserFactory(), source=SessionSource.AI, is_synthetic=True
    )
    assert session.status == SessionStatus.LIVE
    assert before <= session.starts_at == session.started_at <= timezone.now()
    assert (session.duration_minutes, session.source, session.is_synthetic) == (45, SessionSource.AI, True)


def test_server_side_messages_share_the_seq_allocation_with_people():
    session = session_start_now(counselor=UserFactory(), client=UserFactory(), source=SessionSource.SIMULATED)
    message_create(session_id=session.pk, user=session.client, text="こんにちは", rate_limit=False)
    message_create(session_id=session.pk, user=session.counselor, text="どうされましたか", rate_limit=False)
    session.refresh_from_db()
    assert session.last_seq == 2
    assert list(Message.objects.filter(session=session).order_by("seq").values_list("seq", "role")) == [
        (1, "client"),
        (2, "counselor"),
    ]


def test_a_past_transcript_is_numbered_like_live_messages_and_keeps_its_times():
    starts = timezone.now() - timedelta(days=2)
    session = session_create_ended(
        counselor=UserFactory(), client=UserFactory(), starts_at=starts, ended_at=starts + timedelta(minutes=5)
    )
    messages_record(
        session_id=session.pk,
        turns=[("counselor", "はじめまして", starts + timedelta(minutes=1)), ("client", "よろしく", starts)],
    )
    session.refresh_from_db()
    assert (session.status, session.end_reason, session.last_seq) == (SessionStatus.ENDED, EndReason.COUNSELOR, 2)
    rows = list(Message.objects.filter(session=session).order_by("seq"))
    assert [(m.seq, m.role, m.sender_id) for m in rows] == [
        (1, "counselor", session.counselor_id),
        (2, "client", session.client_id),
    ]
    assert rows[0].created_at == starts + timedelta(minutes=1)


def test_a_bad_past_transcript_saves_nothing(settings):
    settings.KOKORO_MAX_MESSAGE_CHARS = 5
    starts = timezone.now() - timedelta(days=1)
    session = session_create_ended(counselor=UserFactory(), client=UserFactory(), starts_at=starts, ended_at=starts)
    with pytest.raises(ChatError) as info:
        messages_record(session_id=session.pk, turns=[("client", "ok", starts), ("client", "far too long", starts)])
    assert info.value.message == ERR_MESSAGE_TOO_LONG % {"max": 5}
    session.refresh_from_db()
    assert session.last_seq == 0 and not Message.objects.filter(session=session).exists()


def test_past_session_times_must_be_aware_and_ordered():
    starts = timezone.now()
    with pytest.raises(SessionError) as info:
        session_create_ended(
            counselor=UserFactory(), client=UserFactory(), starts_at=starts, ended_at=starts - timedelta(minutes=1)
        )
    assert info.value.message == ERR_BAD_PAST_TIMES
    assert not Session.objects.exists()


def test_session_end_can_end_a_session_as_cancelled_and_still_signals(django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, session_id, **kwargs):
        received.append(session_id)

    session_ended.connect(receiver, dispatch_uid="t-cancel")
    try:
        session = SessionFactory()
        with django_capture_on_commit_callbacks(execute=True):
            session_end(session=session, reason=EndReason.TIME_UP, cancelled=True)
    finally:
        session_ended.disconnect(dispatch_uid="t-cancel")
    session.refresh_from_db()
    assert (session.status, session.end_reason) == (SessionStatus.CANCELLED, EndReason.TIME_UP)
    assert session.ended_at is not None and received == [session.pk]


def test_topic_is_kept_unless_overwritten():
    session = SessionFactory(topic="")
    assert session_topic_set(session_id=session.pk, topic="workplace", sub="残業", overwrite=False) is True
    assert session_topic_set(session_id=session.pk, topic="family", sub="", overwrite=False) is False
    session.refresh_from_db()
    assert (session.topic, session.topic_sub) == ("workplace", "残業")
