"""The chat socket stores the common message in its event loop (``roleplay.loop_store``, issue 19):
no database-thread hop unless the exact answer needs the full path, and ``message_created`` only
where a receiver wants the messages (live coaching on, AI practice)."""

from functools import partial

import pytest
from asgiref.sync import sync_to_async

from models_ml.coaching.services import coaching_settings_set
from roleplay import loop_store, socket_db
from roleplay.models import Message
from roleplay.signals import message_created
from tests import chat_sockets
from tests.factories import SessionFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(60),
    pytest.mark.usefixtures("layer", "postgres_required"),
]

joined = partial(chat_sockets.joined, timeout=3)
receive_type = partial(chat_sockets.receive_type, timeout=3)


@pytest.fixture
def hops(monkeypatch):
    """Count the chat socket's database-thread hops that store or announce."""
    calls = {"store": 0, "announce": 0, "interest": 0}
    for name in calls:
        real = getattr(socket_db, name)

        async def counted(*args, _real=real, _name=name, **kwargs):
            calls[_name] += 1
            return await _real(*args, **kwargs)

        monkeypatch.setattr(socket_db, name, counted)
    return calls


@pytest.fixture
def announced():
    seen: list[dict] = []

    def receiver(sender, **info):
        seen.append(info)

    message_created.connect(receiver, dispatch_uid="test-loop-store")
    yield seen
    message_created.disconnect(dispatch_uid="test-loop-store")


async def _send(comm, text: str, cid: str) -> dict:
    await comm.send_json_to({"type": "message", "text": text, "client_msg_id": cid})
    return await receive_type(comm, "ack")


async def test_a_common_message_is_stored_in_the_event_loop_and_a_resend_takes_the_full_path(hops):
    session = await sync_to_async(SessionFactory)()
    counselor, _ = await joined(session.counselor, session.pk)
    client, _ = await joined(session.client, session.pk)

    ack = await _send(client, "こんにちは", "m-1")
    assert ack["seq"] == 1 and ack["duplicate"] is False
    assert (await receive_type(counselor, "message"))["text"] == "こんにちは"
    assert hops["store"] == 0  # stored without a database-thread hop

    again = await _send(client, "こんにちは", "m-1")  # the exact answer (duplicate) needs the full path
    assert again["seq"] == 1 and again["duplicate"] is True and hops["store"] == 1
    assert await sync_to_async(Message.objects.filter(session=session).count)() == 1
    for comm in (counselor, client):
        await comm.disconnect()


async def test_message_created_is_sent_only_where_a_receiver_wants_the_messages(hops, announced):
    session = await sync_to_async(SessionFactory)()  # a human role-play: coaching off, no AI partner
    counselor, _ = await joined(session.counselor, session.pk)

    await _send(counselor, "今日はどうされましたか", "c-1")
    await counselor.receive_nothing(timeout=0.3)
    assert announced == [] and hops["announce"] == 0 and hops["interest"] == 1  # asked at join, then remembered
    await _send(counselor, "ゆっくりで大丈夫です", "c-2")
    assert announced == [] and hops["interest"] == 1

    # The counselor turns live coaching on: the socket is told to ask again, and the next message is announced.
    await sync_to_async(coaching_settings_set)(session=session, user=session.counselor, enabled=True)
    await counselor.receive_nothing(timeout=0.3)
    ack = await _send(counselor, "それはつらかったですね", "c-3")
    await counselor.receive_nothing(timeout=0.3)  # the signal goes after the ack
    assert hops["interest"] == 2 and hops["announce"] == 1, (hops, announced)
    assert [(i["seq"], i["role"], i["session_id"]) for i in announced] == [(ack["seq"], "counselor", session.pk)]
    await counselor.disconnect()


async def test_a_database_settings_change_drops_the_idle_loop_connections():
    session = await sync_to_async(SessionFactory)()
    client, _ = await joined(session.client, session.pk)
    await _send(client, "一つ目", "k-1")
    pool = loop_store._pool()
    assert len(pool.idle) == 1 and pool.key is not None
    first = pool.idle[0]
    pool.key = ("an", "older", "setting")  # as if DATABASES changed since the connection was opened
    await _send(client, "二つ目", "k-2")
    assert pool.idle and pool.idle[0] is not first and first.closed
    await client.disconnect()


@sync_to_async
def _terminate_loop_connections() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = %s AND datname = current_database()",
            [loop_store.APPLICATION_NAME],
        )
        return cursor.fetchone()[0]


async def test_after_a_database_restart_a_message_with_an_id_is_stored_on_a_new_connection():
    session = await sync_to_async(SessionFactory)()
    client, _ = await joined(session.client, session.pk)
    assert (await _send(client, "一つ目", "r-1"))["seq"] == 1
    assert await _terminate_loop_connections() == 1  # as a restart of PostgreSQL would

    ack = await _send(client, "二つ目", "r-2")  # the pooled connection is dead: retried on a new one
    assert ack["type"] == "ack" and ack["seq"] == 2 and ack["duplicate"] is False

    assert await _terminate_loop_connections() == 1
    await client.send_json_to({"type": "message", "text": "三つ目"})  # no id: a retry could store it twice
    error = await receive_type(client, "error")
    assert error["code"] == "server_error"
    texts = await sync_to_async(list)(Message.objects.filter(session=session).values_list("text", flat=True))
    assert texts == ["一つ目", "二つ目"]
    await client.disconnect()
