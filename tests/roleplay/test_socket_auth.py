"""Sockets end with the login: log-out, password change, deactivation, expiry (close 4401).

Every test opens the socket through the full ASGI stack with a real session cookie, as a
browser does, against the configured layer and database (Redis/PostgreSQL in CI).
"""

import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session as LoginSession
from django.test import Client
from django.utils import timezone

from roleplay.models import Message
from roleplay.socket_auth import CLOSE_LOGIN_ENDED
from tests import chat_sockets
from tests.factories import SessionFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60), pytest.mark.usefixtures("layer")]
PASSWORD = "pass-12345"
WITHIN_S = 1.0


@sync_to_async
def _login(user) -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def _communicator(client: Client, session_id: int) -> WebsocketCommunicator:
    from kokoro_site.asgi import application

    headers = [
        (b"origin", b"http://localhost"),
        (b"host", b"localhost"),
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
    ]
    return WebsocketCommunicator(application, f"/ws/sessions/{session_id}/", headers=headers)


async def _socket(client: Client, session_id: int) -> WebsocketCommunicator:
    comm = _communicator(client, session_id)
    connected, code = await chat_sockets.handshake(comm, timeout=5)
    assert connected, code
    await chat_sockets.receive_type(comm, "hello")
    await chat_sockets.drain(comm, 0.3)
    return comm


async def _closed_within(comm, seconds: float = WITHIN_S) -> float:
    """Seconds until the socket is closed with 4401 (frames before the close are skipped)."""
    start = time.monotonic()
    while True:
        output = await comm.receive_output(timeout=max(0.01, seconds - (time.monotonic() - start)))
        if output["type"] == "websocket.close":
            assert output["code"] == CLOSE_LOGIN_ENDED
            return time.monotonic() - start


async def _no_frame_is_accepted(comm, session_id: int) -> None:
    before = await sync_to_async(Message.objects.filter(session_id=session_id).count)()
    await comm.send_json_to({"type": "message", "text": "after the login ended", "client_msg_id": "late-1"})
    await comm.send_json_to({"type": "sync", "after": 0})
    await comm.send_json_to({"type": "ping"})
    assert await comm.receive_nothing(timeout=0.5), "a frame was answered after the login ended"
    assert await sync_to_async(Message.objects.filter(session_id=session_id).count)() == before


async def _still_open(comm) -> None:
    await comm.send_json_to({"type": "ping"})
    assert (await chat_sockets.receive_type(comm, "pong"))["type"] == "pong"


async def test_logout_closes_the_sockets_of_that_login_within_a_second_and_nothing_is_accepted_after():
    session = await sync_to_async(SessionFactory)()
    browser, phone = await _login(session.client), await _login(session.client)
    on_browser, on_phone = await _socket(browser, session.pk), await _socket(phone, session.pk)

    await sync_to_async(browser.post)("/accounts/logout/")
    assert await _closed_within(on_browser) <= WITHIN_S
    await _no_frame_is_accepted(on_browser, session.pk)
    await _still_open(on_phone)  # another login of the same user is not ended by this log-out
    await on_phone.disconnect()


async def test_a_frame_after_the_login_was_removed_is_refused_even_without_the_push():
    session = await sync_to_async(SessionFactory)()
    browser = await _login(session.counselor)
    comm = await _socket(browser, session.pk)
    # The login disappears without a log-out signal (expired and cleared, deleted by an admin).
    await sync_to_async(LoginSession.objects.filter(session_key=browser.cookies["sessionid"].value).delete)()

    await comm.send_json_to({"type": "message", "text": "hello?", "client_msg_id": "x-1"})
    assert await _closed_within(comm) <= WITHIN_S
    await _no_frame_is_accepted(comm, session.pk)


async def test_a_password_change_closes_every_socket_of_the_user_and_only_the_changing_login_reconnects():
    session = await sync_to_async(SessionFactory)()
    old, changing = await _login(session.client), await _login(session.client)
    on_old, on_changing = await _socket(old, session.pk), await _socket(changing, session.pk)
    partner = await _socket(await _login(session.counselor), session.pk)

    response = await sync_to_async(changing.post)(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": "a-new-Pass-98765", "new_password2": "a-new-Pass-98765"},
    )
    assert response.status_code == 302
    assert await _closed_within(on_old) <= WITHIN_S
    assert await _closed_within(on_changing) <= WITHIN_S
    await _no_frame_is_accepted(on_old, session.pk)
    await _no_frame_is_accepted(on_changing, session.pk)
    await _still_open(partner)
    # The page reloads on 4401: the changing browser is still signed in, the other one is not.
    reconnected = await _socket(changing, session.pk)
    await _still_open(reconnected)
    refused = _communicator(old, session.pk)
    assert await chat_sockets.handshake(refused, timeout=5) == (False, CLOSE_LOGIN_ENDED)
    await reconnected.disconnect()
    await partner.disconnect()


async def test_deactivating_a_user_closes_their_sockets_within_a_second():
    session = await sync_to_async(SessionFactory)()
    comm = await _socket(await _login(session.counselor), session.pk)
    partner = await _socket(await _login(session.client), session.pk)

    @sync_to_async
    def deactivate():
        user = get_user_model().objects.get(pk=session.counselor_id)
        user.is_active = False
        user.save()

    await deactivate()
    assert await _closed_within(comm) <= WITHIN_S
    await _no_frame_is_accepted(comm, session.pk)
    await _still_open(partner)
    await partner.disconnect()


async def test_an_expiring_login_closes_its_socket_at_the_expiry_time():
    session = await sync_to_async(SessionFactory)()
    browser = await _login(session.client)
    key = browser.cookies["sessionid"].value
    expires = timezone.now() + timedelta(seconds=2)
    await sync_to_async(LoginSession.objects.filter(session_key=key).update)(expire_date=expires)
    comm = await _socket(browser, session.pk)

    output = await comm.receive_output(timeout=4)
    while output["type"] != "websocket.close":
        output = await comm.receive_output(timeout=4)
    late_by = (timezone.now() - expires).total_seconds()
    assert output["code"] == CLOSE_LOGIN_ENDED
    assert 0 <= late_by <= WITHIN_S
    await _no_frame_is_accepted(comm, session.pk)


async def test_chat_activity_extends_an_idle_login(settings):
    session = await sync_to_async(SessionFactory)()
    browser = await _login(session.client)
    key = browser.cookies["sessionid"].value
    soon = timezone.now() + timedelta(seconds=30)
    await sync_to_async(LoginSession.objects.filter(session_key=key).update)(expire_date=soon)
    comm = await _socket(browser, session.pk)

    await _still_open(comm)
    expire_date = await sync_to_async(LoginSession.objects.values_list("expire_date", flat=True).get)(session_key=key)
    assert expire_date > soon + timedelta(seconds=settings.SESSION_COOKIE_AGE - 120)
    await comm.disconnect()
