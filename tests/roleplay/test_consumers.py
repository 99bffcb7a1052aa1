"""The chat socket against the configured channel layer and database (Redis/PostgreSQL in CI)."""

import asyncio
import json
from datetime import timedelta
from functools import partial

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.test import Client
from django.utils import timezone

from roleplay.consumers import CLOSE_ANONYMOUS, CLOSE_FORBIDDEN
from roleplay.models import EndReason, Message, Session, SessionStatus
from roleplay.notify import session_notify
from roleplay.services.chat import (
    ERR_BAD_FRAME,
    ERR_BAD_JSON,
    ERR_EMPTY_MESSAGE,
    ERR_ENDED,
    ERR_MESSAGE_TOO_LONG,
    ERR_NOT_STARTED,
    ERR_RATE_LIMITED,
    ERR_READ_ONLY,
    ERR_UNKNOWN_TYPE,
)
from roleplay.services.sessions import ERR_ONLY_COUNSELOR_CAN_END, session_next_url
from roleplay.signals import session_ended
from tests import chat_sockets
from tests.factories import SessionFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60), pytest.mark.usefixtures("layer")]

APP = chat_sockets.APP
TIMEOUT = 3
open_socket = partial(chat_sockets.open_socket, timeout=TIMEOUT)
joined = partial(chat_sockets.joined, timeout=TIMEOUT)
receive_type = partial(chat_sockets.receive_type, timeout=TIMEOUT)


def _session(**kwargs) -> Session:
    return SessionFactory(**kwargs)


make_session = sync_to_async(_session)
make_user = sync_to_async(UserFactory)


@sync_to_async
def stored_count(session_id: int) -> int:
    return Message.objects.filter(session_id=session_id).count()


@sync_to_async
def reload(session: Session) -> Session:
    return Session.objects.get(pk=session.pk)


async def frames_of_type(comm: WebsocketCommunicator, type_: str, wait: float = 0.3) -> list[dict]:
    """Every frame of ``type_`` that arrives until the socket stays quiet for ``wait`` seconds."""
    found = []
    while not await comm.receive_nothing(timeout=wait):
        frame = await comm.receive_json_from()
        if frame["type"] == type_:
            found.append(frame)
    return found


async def send_message(comm, text, client_msg_id=None) -> None:
    frame = {"type": "message", "text": text}
    if client_msg_id is not None:
        frame["client_msg_id"] = client_msg_id
    await comm.send_json_to(frame)


# --- who may join ---------------------------------------------------------------------------


async def test_anonymous_socket_is_refused():
    session = await make_session()
    comm, connected, code = await open_socket(AnonymousUser(), session.pk)
    assert not connected
    assert code == CLOSE_ANONYMOUS


async def test_foreign_user_is_refused():
    session = await make_session()
    stranger = await make_user()
    comm, connected, code = await open_socket(stranger, session.pk)
    assert not connected
    assert code == CLOSE_FORBIDDEN


async def test_unknown_session_is_refused_like_a_foreign_one():
    user = await make_user()
    comm, connected, code = await open_socket(user, 987654)
    assert not connected
    assert code == CLOSE_FORBIDDEN


async def test_participants_join_with_their_role():
    session = await make_session()
    counselor, hello_c = await joined(session.counselor, session.pk)
    client, hello_cl = await joined(session.client, session.pk)
    assert hello_c["role"] == "counselor"
    assert hello_cl["role"] == "client"
    assert hello_c["status"] == SessionStatus.LIVE
    await counselor.disconnect()
    await client.disconnect()


@sync_to_async
def _cookie_for(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def test_full_asgi_stack_authenticates_by_session_cookie_and_checks_origin():
    from kokoro_site.asgi import application

    session = await make_session()
    cookie = await _cookie_for(session.client)
    path = f"/ws/sessions/{session.pk}/"
    headers = [(b"origin", b"http://localhost"), (b"cookie", f"sessionid={cookie}".encode()), (b"host", b"localhost")]
    comm = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await comm.connect(timeout=TIMEOUT)
    assert connected
    assert (await receive_type(comm, "hello"))["role"] == "client"
    await comm.disconnect()

    anonymous = WebsocketCommunicator(application, path, headers=[(b"origin", b"http://localhost"), headers[2]])
    connected, code = await chat_sockets.handshake(anonymous, timeout=TIMEOUT)
    assert not connected and code == CLOSE_ANONYMOUS

    foreign_origin = WebsocketCommunicator(
        application, path, headers=[(b"origin", b"http://evil.example"), *headers[1:]]
    )
    connected, _ = await foreign_origin.connect(timeout=TIMEOUT)
    assert not connected


# --- messages ----------------------------------------------------------------------------------


async def test_message_is_stored_with_seq_then_broadcast_to_both():
    session = await make_session()
    counselor, _ = await joined(session.counselor, session.pk)
    client, _ = await joined(session.client, session.pk)
    await send_message(client, "こんにちは。少し話を聞いてもらえますか", "c-1")
    ack = await receive_type(client, "ack")
    assert ack["seq"] == 1 and ack["client_msg_id"] == "c-1" and ack["duplicate"] is False
    received = await receive_type(counselor, "message")
    assert received["seq"] == 1
    assert received["role"] == "client"
    assert received["text"] == "こんにちは。少し話を聞いてもらえますか"
    assert ack["message"] == received  # the sender renders its message from the ack
    assert await frames_of_type(client, "message") == []  # no echo to the sending socket
    stored = await sync_to_async(Message.objects.get)(session=session, seq=1)
    assert stored.text == received["text"] and stored.sender_id == session.client_id
    assert (await reload(session)).last_seq == 1
    await counselor.disconnect()
    await client.disconnect()


async def test_resend_with_same_client_id_is_not_stored_twice():
    session = await make_session()
    counselor, _ = await joined(session.counselor, session.pk)
    client, _ = await joined(session.client, session.pk)
    await send_message(client, "一度だけ保存されるはず", "same-id")
    first = await receive_type(client, "ack")
    await send_message(client, "一度だけ保存されるはず", "same-id")
    second = await receive_type(client, "ack")
    assert second["duplicate"] is True
    assert second["seq"] == first["seq"] == 1
    assert await stored_count(session.pk) == 1
    messages = await frames_of_type(counselor, "message")
    assert [m["seq"] for m in messages] == [1]
    await counselor.disconnect()
    await client.disconnect()


async def test_resync_after_disconnect_delivers_missed_messages_in_order():
    session = await make_session()
    counselor, _ = await joined(session.counselor, session.pk)
    client, _ = await joined(session.client, session.pk)
    await send_message(counselor, "最初のメッセージ", "m1")
    assert (await receive_type(counselor, "ack"))["seq"] == 1
    assert (await receive_type(client, "message"))["seq"] == 1
    await client.disconnect()
    for i in range(2, 6):
        await send_message(counselor, f"メッセージ{i}", f"m{i}")
        assert (await receive_type(counselor, "ack"))["seq"] == i  # stored and committed before the rejoin
    client, hello = await joined(session.client, session.pk)
    assert hello["last_seq"] == 5
    await client.send_json_to({"type": "sync", "after": 1})
    sync = await receive_type(client, "sync")
    assert [m["seq"] for m in sync["messages"]] == [2, 3, 4, 5]
    assert [m["text"] for m in sync["messages"]] == [f"メッセージ{i}" for i in range(2, 6)]
    assert sync["last_seq"] == 5 and sync["has_more"] is False
    await counselor.disconnect()
    await client.disconnect()


async def test_other_tab_of_the_sender_gets_the_copy():
    session = await make_session()
    tab1, _ = await joined(session.client, session.pk)
    tab2, _ = await joined(session.client, session.pk)
    await send_message(tab1, "別のタブにも", "tab-1")
    assert (await receive_type(tab2, "message"))["text"] == "別のタブにも"
    await tab1.disconnect()
    await tab2.disconnect()


async def test_frames_received_before_a_disconnect_are_still_stored_and_broadcast():
    session = await make_session()
    counselor, _ = await joined(session.counselor, session.pk)
    client, _ = await joined(session.client, session.pk)
    for i in range(5):
        await send_message(client, f"切断直前{i}", f"d{i}")
    await client.disconnect()
    got = [(await receive_type(counselor, "message"))["seq"] for _ in range(5)]
    assert got == [1, 2, 3, 4, 5]
    assert await stored_count(session.pk) == 5
    await counselor.disconnect()


async def test_concurrent_sockets_get_unique_gapless_seq():
    session = await make_session()
    sockets = []
    for user in (session.counselor, session.client, session.counselor, session.client):
        sockets.append((await joined(user, session.pk))[0])

    async def burst(comm, tag):
        for i in range(10):
            await send_message(comm, f"{tag}-{i}", f"{tag}-{i}")

    await asyncio.gather(*(burst(c, f"s{n}") for n, c in enumerate(sockets)))
    acks = []
    for comm in sockets:
        for _ in range(10):
            acks.append((await receive_type(comm, "ack", timeout=10))["seq"])
    assert sorted(acks) == list(range(1, 41))
    seqs = await sync_to_async(lambda: list(Message.objects.filter(session=session).values_list("seq", flat=True)))()
    assert sorted(seqs) == list(range(1, 41))
    for comm in sockets:
        await comm.disconnect()


# --- bad input: an error frame and nothing stored ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "code", "error"),
    [
        ("", "empty", ERR_EMPTY_MESSAGE),
        ("   \n\t　", "empty", ERR_EMPTY_MESSAGE),
        (None, "empty", ERR_EMPTY_MESSAGE),
        (123, "empty", ERR_EMPTY_MESSAGE),
        ("あ" * 2001, "too_long", ERR_MESSAGE_TOO_LONG % {"max": 2000}),
    ],
    ids=["empty", "whitespace", "missing", "not-a-string", "too-long"],
)
async def test_bad_text_gets_error_frame_and_is_not_stored(text, code, error):
    session = await make_session()
    client, _ = await joined(session.client, session.pk)
    await client.send_json_to({"type": "message", "text": text, "client_msg_id": "bad-1"})
    frame = await receive_type(client, "error")
    assert frame["code"] == code
    assert frame["message"] == str(error)
    assert frame["client_msg_id"] == "bad-1"
    assert await stored_count(session.pk) == 0
    assert (await reload(session)).last_seq == 0
    await client.disconnect()


async def test_text_of_exactly_the_limit_is_stored():
    session = await make_session()
    client, _ = await joined(session.client, session.pk)
    await send_message(client, "い" * 2000, "max")
    assert (await receive_type(client, "ack"))["seq"] == 1
    assert await stored_count(session.pk) == 1
    await client.disconnect()


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"text"'], ids=["malformed", "list", "string"])
async def test_malformed_json_gets_error_frame_and_nothing_stored(raw):
    session = await make_session()
    client, _ = await joined(session.client, session.pk)
    await client.send_to(text_data=raw)
    frame = await receive_type(client, "error")
    assert frame["code"] == "bad_json" and frame["message"] == str(ERR_BAD_JSON)
    assert await stored_count(session.pk) == 0
    await client.disconnect()


async def test_unknown_frame_type_gets_error_frame_and_nothing_stored():
    session = await make_session()
    client, _ = await joined(session.client, session.pk)
    await client.send_json_to({"type": "shout", "text": "こんにちは"})
    frame = await receive_type(client, "error")
    assert frame["code"] == "unknown_type" and frame["message"] == str(ERR_UNKNOWN_TYPE)
    await client.send_json_to({"text": "type がない"})
    frame = await receive_type(client, "error")
    assert frame["code"] == "unknown_type"
    assert await stored_count(session.pk) == 0
    await client.disconnect()


async def test_bad_sync_position_gets_error_frame():
    session = await make_session()
    client, _ = await joined(session.client, session.pk)
    await client.send_json_to({"type": "sync", "after": "abc"})
    frame = await receive_type(client, "error")
    assert frame["code"] == "bad_frame" and frame["message"] == str(ERR_BAD_FRAME)
    await client.disconnect()


async def test_sending_before_the_start_is_refused_and_not_stored():
    session = await make_session(
        status=SessionStatus.SCHEDULED, starts_at=timezone.now() + timedelta(minutes=10), started_at=None
    )
    client, hello = await joined(session.client, session.pk)
    assert hello["status"] == SessionStatus.SCHEDULED
    await send_message(client, "まだ早い", "early")
    frame = await receive_type(client, "error")
    assert frame["code"] == "not_started" and frame["message"] == str(ERR_NOT_STARTED)
    assert await stored_count(session.pk) == 0
    assert (await reload(session)).status == SessionStatus.SCHEDULED
    await client.disconnect()


async def test_sending_to_an_ended_session_is_refused_and_not_stored():
    session = await make_session(status=SessionStatus.ENDED, ended_at=timezone.now(), end_reason=EndReason.COUNSELOR)
    client, hello = await joined(session.client, session.pk)  # read-only connection still allowed
    assert hello["status"] == SessionStatus.ENDED
    assert hello["next_url"] == await sync_to_async(session_next_url)(session_id=session.pk, role="client")
    await send_message(client, "終わった後", "late")
    frame = await receive_type(client, "error")
    assert frame["code"] == "ended" and frame["message"] == str(ERR_ENDED)
    assert await stored_count(session.pk) == 0
    await client.disconnect()


async def test_staff_observer_watches_read_only():
    session = await make_session()
    staff = await make_user(is_staff=True)
    observer, hello = await joined(staff, session.pk)
    assert hello["role"] == "observer"
    client, _ = await joined(session.client, session.pk)
    await send_message(client, "見られている", "o-1")
    assert (await receive_type(observer, "message"))["text"] == "見られている"
    await send_message(observer, "観察者の発言", "o-2")
    frame = await receive_type(observer, "error")
    assert frame["code"] == "read_only" and frame["message"] == str(ERR_READ_ONLY)
    await observer.send_json_to({"type": "end"})
    assert (await receive_type(observer, "error"))["code"] == "read_only"
    assert await stored_count(session.pk) == 1
    assert (await reload(session)).status == SessionStatus.LIVE
    await observer.disconnect()
    await client.disconnect()


async def test_rate_limit_refuses_and_does_not_store(settings):
    settings.KOKORO_CHAT_RATE_LIMIT = 3
    settings.KOKORO_CHAT_RATE_WINDOW_S = 30
    session = await make_session()
    client, _ = await joined(session.client, session.pk)
    for i in range(3):
        await send_message(client, f"連投{i}", f"r{i}")
        assert (await receive_type(client, "ack"))["seq"] == i + 1
    await send_message(client, "多すぎる", "r3")
    frame = await receive_type(client, "error")
    assert frame["code"] == "rate_limited" and frame["message"] == str(ERR_RATE_LIMITED)
    assert await stored_count(session.pk) == 3
    # A resend of an already stored message is acknowledged, not counted.
    await send_message(client, "連投0", "r0")
    assert (await receive_type(client, "ack"))["duplicate"] is True
    await client.disconnect()


# --- typing and presence ---------------------------------------------------------------------


async def test_typing_indicator_reaches_only_the_partner():
    session = await make_session()
    counselor, _ = await joined(session.counselor, session.pk)
    client, _ = await joined(session.client, session.pk)
    await counselor.send_json_to({"type": "typing", "typing": True})
    frame = await receive_type(client, "typing")
    assert frame == {"type": "typing", "role": "counselor", "typing": True}
    assert await frames_of_type(counselor, "typing") == []
    await counselor.send_json_to({"type": "typing", "typing": False})
    assert (await receive_type(client, "typing"))["typing"] is False
    await counselor.disconnect()
    await client.disconnect()


async def test_presence_online_and_offline():
    session = await make_session()
    counselor, _ = await joined(session.counselor, session.pk)
    client, _ = await joined(session.client, session.pk)
    seen_by_counselor = await receive_type(counselor, "presence")
    assert seen_by_counselor == {"type": "presence", "role": "client", "online": True}
    seen_by_client = await receive_type(client, "presence")  # the counselor answers the newcomer
    assert seen_by_client == {"type": "presence", "role": "counselor", "online": True}
    await client.disconnect()
    seen = []
    while not seen or seen[-1]["online"]:  # a repeated "online" is harmless; "offline" must come
        seen.append(await receive_type(counselor, "presence"))
    assert seen[-1] == {"type": "presence", "role": "client", "online": False}
    assert all(frame["role"] == "client" for frame in seen)
    await counselor.disconnect()


# --- begin and end -----------------------------------------------------------------------------


async def test_first_connect_at_start_time_begins_the_session():
    session = await make_session(
        status=SessionStatus.SCHEDULED, starts_at=timezone.now() - timedelta(seconds=5), started_at=None
    )
    client, hello = await joined(session.client, session.pk)
    assert hello["status"] == SessionStatus.LIVE
    fresh = await reload(session)
    assert fresh.status == SessionStatus.LIVE and fresh.started_at is not None
    await client.disconnect()


async def test_early_socket_is_told_when_the_session_starts():
    session = await make_session(
        status=SessionStatus.SCHEDULED, starts_at=timezone.now() + timedelta(seconds=1), started_at=None
    )
    client, hello = await joined(session.client, session.pk)
    assert hello["status"] == SessionStatus.SCHEDULED
    started = await receive_type(client, "started", timeout=5)
    assert started["started_at"]
    assert (await reload(session)).status == SessionStatus.LIVE
    await send_message(client, "始まりましたね", "s-1")
    assert (await receive_type(client, "ack"))["seq"] == 1
    await client.disconnect()


async def test_counselor_ends_session_and_both_are_sent_on():
    received = []

    def on_end(sender, session_id, **kwargs):
        received.append(session_id)

    session_ended.connect(on_end, dispatch_uid="test-consumer-end")
    try:
        session = await make_session()
        counselor, _ = await joined(session.counselor, session.pk)
        client, _ = await joined(session.client, session.pk)
        await counselor.send_json_to({"type": "end"})
        c_end = await receive_type(counselor, "ended")
        cl_end = await receive_type(client, "ended")
    finally:
        session_ended.disconnect(dispatch_uid="test-consumer-end")
    assert c_end["reason"] == cl_end["reason"] == EndReason.COUNSELOR
    next_c = await sync_to_async(session_next_url)(session_id=session.pk, role="counselor")
    next_cl = await sync_to_async(session_next_url)(session_id=session.pk, role="client")
    assert c_end["next_url"] == next_c
    assert cl_end["next_url"] == next_cl
    fresh = await reload(session)
    assert fresh.status == SessionStatus.ENDED and fresh.end_reason == EndReason.COUNSELOR
    assert fresh.ended_at is not None
    assert received == [session.pk]
    await client.send_json_to({"type": "message", "text": "まだ話したい", "client_msg_id": "after-end"})
    assert (await receive_type(client, "error"))["code"] == "ended"
    assert await stored_count(session.pk) == 0
    await counselor.disconnect()
    await client.disconnect()


async def test_client_cannot_end_the_session():
    session = await make_session()
    client, _ = await joined(session.client, session.pk)
    await client.send_json_to({"type": "end"})
    frame = await receive_type(client, "error")
    assert frame["code"] == "forbidden" and frame["message"] == str(ERR_ONLY_COUNSELOR_CAN_END)
    assert (await reload(session)).status == SessionStatus.LIVE
    await client.disconnect()


async def test_time_up_ends_the_session_by_timer_while_connected():
    starts = timezone.now() - timedelta(minutes=60) + timedelta(seconds=1.5)
    session = await make_session(starts_at=starts, duration_minutes=60)
    counselor, _ = await joined(session.counselor, session.pk)
    client, _ = await joined(session.client, session.pk)
    c_end = await receive_type(counselor, "ended", timeout=6)
    cl_end = await receive_type(client, "ended", timeout=3)
    assert c_end["reason"] == cl_end["reason"] == EndReason.TIME_UP
    fresh = await reload(session)
    assert fresh.status == SessionStatus.ENDED and fresh.end_reason == EndReason.TIME_UP
    await counselor.disconnect()
    await client.disconnect()


async def test_overdue_session_is_ended_on_connect_and_refuses_messages():
    session = await make_session(starts_at=timezone.now() - timedelta(minutes=61), duration_minutes=60)
    client, hello = await joined(session.client, session.pk)
    assert hello["status"] == SessionStatus.ENDED
    await send_message(client, "時間切れ", "late")
    assert (await receive_type(client, "error"))["code"] == "ended"
    assert await stored_count(session.pk) == 0
    assert (await reload(session)).end_reason == EndReason.TIME_UP
    await client.disconnect()


async def test_session_notify_reaches_only_the_audience():
    session = await make_session()
    counselor, _ = await joined(session.counselor, session.pk)
    client, _ = await joined(session.client, session.pk)
    await sync_to_async(session_notify)(
        session_id=session.pk, event={"type": "prediction", "total": 61}, audience=("counselor",)
    )
    assert (await receive_type(counselor, "prediction")) == {"type": "prediction", "total": 61}
    assert await frames_of_type(client, "prediction") == []
    await sync_to_async(session_notify)(session_id=session.pk, event={"type": "feedback_ready"})
    assert (await receive_type(client, "feedback_ready"))["type"] == "feedback_ready"
    assert (await receive_type(counselor, "feedback_ready"))["type"] == "feedback_ready"
    await counselor.disconnect()
    await client.disconnect()


async def test_ping_gets_pong():
    session = await make_session()
    client, _ = await joined(session.client, session.pk)
    await client.send_json_to({"type": "ping"})
    assert "server_time" in await receive_type(client, "pong")
    await client.disconnect()


def test_error_frames_are_json_serialisable():
    assert json.loads(json.dumps({"message": str(ERR_EMPTY_MESSAGE)}))


@pytest.mark.redis
@pytest.mark.slow
async def test_idle_socket_outlives_the_redis_poll_timeout(redis_required):
    """channels-redis polls with a 5 s blocking read; redis-py 8 also times reads out at 5 s by
    default, which killed idle sockets (close 1011) unless the layer's socket_timeout is raised."""
    session = await make_session()
    client, _ = await joined(session.client, session.pk)
    await asyncio.sleep(7)
    await client.send_json_to({"type": "ping"})
    assert (await receive_type(client, "pong"))["type"] == "pong"
    await client.disconnect()
