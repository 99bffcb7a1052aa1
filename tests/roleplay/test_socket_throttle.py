"""Every frame type is limited per socket; client_msg_id is deduplicated per sender."""

import asyncio
from functools import partial

import pytest
from asgiref.sync import sync_to_async

from roleplay.models import Message
from roleplay.services.chat import ERR_RATE_LIMITED
from tests import chat_sockets
from tests.factories import SessionFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60), pytest.mark.usefixtures("layer")]
TIMEOUT = 3
joined = partial(chat_sockets.joined, timeout=TIMEOUT)
receive_type = partial(chat_sockets.receive_type, timeout=TIMEOUT)


async def _pair():
    session = await sync_to_async(SessionFactory)()
    counselor, _ = await joined(session.counselor, session.pk)
    client, _ = await joined(session.client, session.pk)
    await chat_sockets.drain(counselor, 0.3)
    await chat_sockets.drain(client, 0.3)
    return session, counselor, client


async def test_a_typing_burst_reaches_the_partner_at_most_once_a_second_and_ends_with_the_last_state():
    _session, counselor, client = await _pair()
    for i in range(200):
        await client.send_json_to({"type": "typing", "typing": i % 2 == 0})
    await client.send_json_to({"type": "typing", "typing": False})

    loop = asyncio.get_running_loop()
    started = loop.time()
    received = []  # (arrival time, typing)
    while not await counselor.receive_nothing(timeout=1.5):
        frame = await counselor.receive_json_from()
        if frame["type"] == "typing":
            received.append((loop.time(), frame["typing"]))
    assert received and received[-1][1] is False  # the latest state is never lost
    # Forwarded at most once a second (the server spaces them; arrival times jitter under load).
    assert len(received) <= (received[-1][0] - started) + 2, [round(t - started, 2) for t, _ in received]
    assert len(received) < 201 / 10
    await asyncio.sleep(1.1)
    await client.send_json_to({"type": "typing", "typing": True})  # a new interval: forwarded
    assert (await receive_type(counselor, "typing"))["typing"] is True
    await counselor.disconnect()
    await client.disconnect()


async def test_sync_frames_over_the_limit_get_rate_limited_errors(settings):
    settings.KOKORO_CHAT_SYNC_LIMIT = 5
    _session, counselor, client = await _pair()
    for _ in range(20):
        await client.send_json_to({"type": "sync", "after": 0})
    replies = [await client.receive_json_from(timeout=TIMEOUT) for _ in range(20)]
    assert [r["type"] for r in replies].count("sync") == 5
    errors = [r for r in replies if r["type"] == "error"]
    assert len(errors) == 15 and {e["code"] for e in errors} == {"rate_limited"}
    assert errors[0]["message"] == str(ERR_RATE_LIMITED)
    await counselor.disconnect()
    await client.disconnect()


async def test_resends_of_a_stored_client_msg_id_are_limited_and_each_gets_one_reply(settings):
    settings.KOKORO_CHAT_RATE_LIMIT = 5  # 2 x 5 message frames per window and socket
    session, counselor, client = await _pair()
    for _ in range(30):
        await client.send_json_to({"type": "message", "text": "hello", "client_msg_id": "m-1"})
    replies = [await client.receive_json_from(timeout=TIMEOUT) for _ in range(30)]
    assert await client.receive_nothing(timeout=0.3)
    acks = [r for r in replies if r["type"] == "ack"]
    assert len(acks) == 10 and [a["duplicate"] for a in acks].count(False) == 1
    assert [r["code"] for r in replies if r["type"] == "error"] == ["rate_limited"] * 20
    assert all(r.get("client_msg_id") == "m-1" for r in replies)
    assert await sync_to_async(Message.objects.filter(session=session).count)() == 1
    await counselor.disconnect()
    await client.disconnect()


async def test_frames_of_any_type_over_the_socket_limit_are_dropped(settings):
    settings.KOKORO_CHAT_FRAME_LIMIT = 20
    _session, counselor, client = await _pair()
    for _ in range(100):
        await client.send_json_to({"type": "ping"})
    frames = await chat_sockets.drain(client, 0.5)
    assert [f["type"] for f in frames] == ["pong"] * 20
    await counselor.disconnect()
    await client.disconnect()


async def test_a_client_msg_id_of_the_partner_is_a_new_message_never_the_partners():
    session, counselor, client = await _pair()
    await counselor.send_json_to({"type": "message", "text": "counselor text", "client_msg_id": "same"})
    mine = await receive_type(counselor, "ack")
    await client.send_json_to({"type": "message", "text": "client text", "client_msg_id": "same"})
    theirs = await receive_type(client, "ack")
    assert theirs["duplicate"] is False and theirs["seq"] == mine["seq"] + 1
    assert theirs["message"]["text"] == "client text" and theirs["message"]["role"] == "client"
    await client.send_json_to({"type": "message", "text": "client text", "client_msg_id": "same"})
    resend = await receive_type(client, "ack")
    assert resend["duplicate"] is True and resend["seq"] == theirs["seq"]
    texts = await sync_to_async(lambda: list(Message.objects.filter(session=session).values_list("text", flat=True)))()
    assert texts == ["counselor text", "client text"]
    await counselor.disconnect()
    await client.disconnect()
