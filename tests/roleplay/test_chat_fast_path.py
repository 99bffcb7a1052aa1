"""The fast statement (``fast_sql``), as the chat socket runs it in its event loop
(``roleplay.loop_store``): the one-statement store of the common message (issue 19).

It must store exactly what ``message_create`` would (next seq under the session row's lock, the
sender's role, the login checked and extended), and otherwise store and count nothing, so that
the full path gives the exact answer.
"""

import asyncio
from datetime import timedelta

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session as LoginSession
from django.utils import timezone

from roleplay import loop_store
from roleplay.models import Message, Session, SessionStatus
from roleplay.services.chat import ChatError, message_create
from roleplay.socket_auth import login_fast_check, socket_login
from tests.factories import SessionFactory
from tests.roleplay.concurrent_senders import send_from_threads

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres(postgres_required):
    return


def _login(user) -> tuple[tuple, str]:
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return (user.pk, store.session_key, user.get_session_auth_hash()), user.password


def _fast(session, user, login, password, text="こんにちは", cid=None):
    """The stored message, or None (nothing stored): one call of the loop store on its own event loop."""
    check = login_fast_check(login, password)

    async def store():
        try:
            return await loop_store.message_store_in_loop(
                session_id=session.pk, user_id=user.pk, text=text, client_msg_id=cid, login=check
            )
        finally:
            loop_store.close_all(asyncio.get_running_loop())

    done = asyncio.run(store())
    return None if done is None else done[0]


def test_stores_with_the_next_seq_and_role_like_the_full_path():
    session = SessionFactory()
    login, password = _login(session.client)
    message_create(session_id=session.pk, user=session.counselor, text="first")
    stored = _fast(session, session.client, login, password, cid="c-1")
    assert stored is not None and stored.created
    assert (stored.message.seq, stored.message.role, stored.message.client_msg_id) == (2, "client", "c-1")
    row = Message.objects.get(session=session, seq=2)
    assert (row.pk, row.sender_id, row.text, row.role) == (stored.message.pk, session.client_id, "こんにちは", "client")
    assert Session.objects.get(pk=session.pk).last_seq == 2
    assert message_create(session_id=session.pk, user=session.counselor, text="third").message.seq == 3


def test_a_login_due_for_extension_is_extended_in_the_same_statement(settings):
    session = SessionFactory()
    login, password = _login(session.client)
    soon = timezone.now() + timedelta(seconds=30)
    LoginSession.objects.filter(session_key=login[1]).update(expire_date=soon)
    assert _fast(session, session.client, login, password) is not None
    expires = LoginSession.objects.get(session_key=login[1]).expire_date
    assert expires > timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE - 60)


@pytest.mark.parametrize(
    "case",
    ["duplicate", "ended", "scheduled", "not_a_participant", "password_changed", "logged_out", "deactivated"],
)
def test_anything_but_the_common_case_stores_and_counts_nothing(case, settings):
    settings.KOKORO_CHAT_RATE_LIMIT = 1
    session = SessionFactory()
    user = session.client
    login, password = _login(user)
    cid = None
    if case == "duplicate":
        settings.KOKORO_CHAT_RATE_LIMIT = 2
        message_create(session_id=session.pk, user=user, text="once", client_msg_id="dup")
        cid = "dup"
    elif case == "ended":
        Session.objects.filter(pk=session.pk).update(status=SessionStatus.ENDED)
    elif case == "scheduled":
        Session.objects.filter(pk=session.pk).update(status=SessionStatus.SCHEDULED)
    elif case == "not_a_participant":
        user = SessionFactory().client
        login, password = _login(user)
    elif case == "password_changed":
        user.set_password("another-Pass-4321")
        user.save()
    elif case == "logged_out":
        LoginSession.objects.filter(session_key=login[1]).delete()
    elif case == "deactivated":
        type(user).objects.filter(pk=user.pk).update(is_active=False)
    before = list(Message.objects.filter(session=session).values_list("seq", flat=True))
    last_seq = Session.objects.get(pk=session.pk).last_seq

    assert _fast(session, user, login, password, cid=cid) is None
    assert list(Message.objects.filter(session=session).values_list("seq", flat=True)) == before
    assert Session.objects.get(pk=session.pk).last_seq == last_seq
    if case in ("scheduled", "password_changed", "logged_out", "deactivated"):
        # nothing was counted: the full path still has the one message the limit allows
        stored = message_create(session_id=session.pk, user=session.client, text="full path")
        assert stored.created and stored.message.seq == last_seq + 1


def test_over_the_rate_limit_the_full_path_refuses(settings):
    settings.KOKORO_CHAT_RATE_LIMIT = 1
    session = SessionFactory()
    login, password = _login(session.client)
    assert _fast(session, session.client, login, password) is not None
    assert _fast(session, session.client, login, password) is None
    with pytest.raises(ChatError) as refused:
        message_create(session_id=session.pk, user=session.client, text="too fast")
    assert refused.value.code == "rate_limited"
    assert Message.objects.filter(session=session).count() == 1


def test_a_socket_login_without_a_session_key_checks_the_user_only():
    session = SessionFactory()
    user = session.counselor
    login = socket_login({"user": user})
    assert login[1] is None
    assert _fast(session, user, login, user.password) is not None
    assert _fast(session, user, login, "not-the-hash") is None


def test_concurrent_fast_senders_get_gapless_unique_seq():
    session = SessionFactory()
    logins = {u.pk: _login(u) for u in (session.client, session.counselor)}

    def send(user, n: int, i: int) -> None:
        login, password = logins[user.pk]
        assert _fast(session, user, login, password, text=f"t{n}-{i}", cid=f"t{n}-{i}") is not None

    send_from_threads(session, send, threads_n=6, per_thread=15)
