from datetime import timedelta

import pytest
from django.utils import timezone

from roleplay.models import Message, SessionStatus
from roleplay.services.chat import (
    ERR_BAD_CLIENT_ID,
    ERR_EMPTY_MESSAGE,
    ERR_ENDED,
    ERR_MESSAGE_TOO_LONG,
    ERR_NOT_STARTED,
    ERR_RATE_LIMITED,
    ERR_READ_ONLY,
    ChatError,
    chat_rate_exceeded,
    message_create,
)
from tests.factories import SessionFactory, UserFactory
from tests.roleplay.concurrent_senders import send_from_threads


def _refused(session, user, text, code, error, client_msg_id=None):
    with pytest.raises(ChatError) as exc:
        message_create(session_id=session.pk, user=user, text=text, client_msg_id=client_msg_id)
    assert exc.value.code == code
    assert str(exc.value.message) == str(error)
    assert not Message.objects.filter(session=session).exists()
    session.refresh_from_db()
    assert session.last_seq == 0


@pytest.mark.django_db
def test_messages_are_numbered_one_by_one_per_session():
    session = SessionFactory()
    other = SessionFactory()
    seqs = [message_create(session_id=session.pk, user=session.client, text=f"文{i}").message.seq for i in range(3)]
    first_other = message_create(session_id=other.pk, user=other.counselor, text="別の部屋").message
    assert seqs == [1, 2, 3]
    assert first_other.seq == 1
    session.refresh_from_db()
    assert session.last_seq == 3
    stored = Message.objects.get(session=session, seq=2)
    assert stored.role == "client" and stored.sender == session.client and stored.created_at is not None


@pytest.mark.django_db
def test_resend_with_same_client_id_is_not_stored_twice():
    session = SessionFactory()
    first = message_create(session_id=session.pk, user=session.client, text="同じもの", client_msg_id="abc")
    again = message_create(session_id=session.pk, user=session.client, text="同じもの", client_msg_id="abc")
    assert first.created and not again.created
    assert again.message.pk == first.message.pk and again.message.seq == 1
    assert Message.objects.filter(session=session).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "code", "error"),
    [
        ("", "empty", ERR_EMPTY_MESSAGE),
        (" \u3000\n", "empty", ERR_EMPTY_MESSAGE),
        (None, "empty", ERR_EMPTY_MESSAGE),
        ("x" * 2001, "too_long", ERR_MESSAGE_TOO_LONG % {"max": 2000}),
    ],
)
def test_bad_text_is_refused_and_nothing_stored(text, code, error):
    session = SessionFactory()
    _refused(session, session.client, text, code, error)


@pytest.mark.django_db
def test_overlong_client_msg_id_is_refused():
    session = SessionFactory()
    _refused(session, session.client, "ok", "bad_client_msg_id", ERR_BAD_CLIENT_ID, client_msg_id="x" * 65)


@pytest.mark.django_db
def test_non_participant_cannot_send():
    session = SessionFactory()
    _refused(session, UserFactory(is_staff=True), "見ているだけ", "read_only", ERR_READ_ONLY)


@pytest.mark.django_db
def test_sending_before_start_is_refused():
    session = SessionFactory(status=SessionStatus.SCHEDULED, starts_at=timezone.now() + timedelta(hours=1))
    _refused(session, session.client, "早すぎる", "not_started", ERR_NOT_STARTED)


@pytest.mark.django_db
@pytest.mark.parametrize("status", [SessionStatus.ENDED, SessionStatus.CANCELLED])
def test_sending_to_closed_session_is_refused(status):
    session = SessionFactory(status=status)
    _refused(session, session.client, "遅すぎる", "ended", ERR_ENDED)


@pytest.mark.django_db
def test_sending_after_the_time_is_up_is_refused():
    session = SessionFactory(starts_at=timezone.now() - timedelta(minutes=61), duration_minutes=60)
    _refused(session, session.client, "時間切れ", "ended", ERR_ENDED)


@pytest.mark.django_db
def test_first_message_after_start_makes_a_scheduled_session_live():
    session = SessionFactory(
        status=SessionStatus.SCHEDULED, starts_at=timezone.now() - timedelta(seconds=1), started_at=None
    )
    message_create(session_id=session.pk, user=session.counselor, text="始めましょう")
    session.refresh_from_db()
    assert session.status == SessionStatus.LIVE and session.started_at is not None


@pytest.mark.django_db
def test_rate_limit_refuses_over_the_limit_per_user(settings):
    settings.KOKORO_CHAT_RATE_LIMIT = 2
    settings.KOKORO_CHAT_RATE_WINDOW_S = 60
    session = SessionFactory()
    for i in range(2):
        message_create(session_id=session.pk, user=session.client, text=f"{i}")
    with pytest.raises(ChatError) as exc:
        message_create(session_id=session.pk, user=session.client, text="三つ目")
    assert exc.value.code == "rate_limited" and str(exc.value.message) == str(ERR_RATE_LIMITED)
    assert Message.objects.filter(session=session).count() == 2
    # The partner has their own budget.
    assert message_create(session_id=session.pk, user=session.counselor, text="私は大丈夫").created


@pytest.mark.django_db
def test_the_rate_window_slides_over_the_stored_messages(settings):
    settings.KOKORO_CHAT_RATE_LIMIT = 1
    settings.KOKORO_CHAT_RATE_WINDOW_S = 60
    session = SessionFactory()
    stored = message_create(session_id=session.pk, user=session.client, text="一つ目").message
    assert chat_rate_exceeded(user_id=session.client_id)
    with pytest.raises(ChatError):
        message_create(session_id=session.pk, user=session.client, text="二つ目")
    # A minute later the first one has left the window (counted by created_at in the database).
    Message.objects.filter(pk=stored.pk).update(created_at=timezone.now() - timedelta(seconds=61))
    assert not chat_rate_exceeded(user_id=session.client_id)
    assert message_create(session_id=session.pk, user=session.client, text="二つ目").created


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_senders_get_gapless_unique_seq(postgres_required):
    session = SessionFactory()
    threads_n, per_thread = 6, 15

    def send(user, n: int, i: int) -> None:
        message_create(session_id=session.pk, user=user, text=f"t{n}-{i}", client_msg_id=f"t{n}-{i}")

    send_from_threads(session, send, threads_n=threads_n, per_thread=per_thread)
    # Each thread's own messages keep their order.
    for n in range(threads_n):
        texts = list(
            Message.objects.filter(session=session, text__startswith=f"t{n}-")
            .order_by("seq")
            .values_list("text", flat=True)
        )
        assert texts == [f"t{n}-{i}" for i in range(per_thread)]
