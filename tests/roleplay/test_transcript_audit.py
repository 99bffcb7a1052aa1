"""Staff reads of a single transcript are audit-logged (dataset page, admin, watching a room
or its socket); participants reading their own session write nothing."""

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse

from roleplay.models import TranscriptRead
from tests import chat_sockets
from tests.factories import MessageFactory, SessionFactory, UserFactory

pytestmark = pytest.mark.django_db


def _reads():
    return list(TranscriptRead.objects.values_list("user_id", "session_id", "channel"))


def test_staff_reading_a_transcript_on_the_dataset_page_and_in_the_admin_is_logged(client):
    staff = UserFactory(is_staff=True, is_superuser=True)
    message = MessageFactory()
    client.force_login(staff)
    assert client.get(reverse("dataset:session_detail", args=[message.session_id])).status_code == 200
    assert client.get(f"/admin/roleplay/message/?session__id__exact={message.session_id}").status_code == 200
    assert client.get(f"/admin/roleplay/message/{message.pk}/change/").status_code == 200
    assert client.get("/admin/roleplay/message/").status_code == 200  # no single transcript: not logged
    assert _reads() == [(staff.pk, message.session_id, "admin")] * 2 + [(staff.pk, message.session_id, "dataset")]


def test_staff_watching_a_room_is_logged_and_participants_are_not(client):
    session = SessionFactory()
    client.force_login(session.counselor)
    assert client.get(reverse("roleplay:session", args=[session.pk])).status_code == 200
    assert _reads() == []
    staff = UserFactory(is_staff=True)
    client.force_login(staff)
    assert client.get(reverse("roleplay:session", args=[session.pk])).status_code == 200
    assert _reads() == [(staff.pk, session.pk, "room")]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("layer")
async def test_staff_watching_through_the_socket_is_logged():
    session = await sync_to_async(SessionFactory)()
    staff = await sync_to_async(UserFactory)(is_staff=True)
    participant = await chat_sockets.connected(session.client, session.pk)
    observer, hello = await chat_sockets.joined(staff, session.pk)
    assert hello["role"] == "observer"
    assert await sync_to_async(_reads)() == [(staff.pk, session.pk, "socket")]
    await observer.disconnect()
    await participant.disconnect()
