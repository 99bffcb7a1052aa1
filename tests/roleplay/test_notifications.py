"""Notifications: matches, reschedules, cancellations and the 5-minute reminder; list, badge, e-mail."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from roleplay.models import Notification, NotificationKind, SessionStatus
from roleplay.services import matching
from roleplay.services.notifications import (
    notification_create,
    notification_email_send,
    sessions_remind_starting,
)
from roleplay.tasks import remind_starting_sessions
from tests.chat_sockets import APP
from tests.factories import SessionFactory, UserFactory

JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff00-\uffef]")


def _scheduled(minutes_ahead: float, **kwargs):
    return SessionFactory(
        status=SessionStatus.SCHEDULED,
        starts_at=timezone.now() + timedelta(minutes=minutes_ahead),
        started_at=None,
        **kwargs,
    )


def _kinds(user) -> list[str]:
    return list(Notification.objects.filter(user=user).order_by("pk").values_list("kind", flat=True))


@pytest.mark.django_db
def test_a_match_notifies_both_participants():
    counselor, client = UserFactory(), UserFactory()
    start = timezone.now() + timedelta(days=1)
    matching.slot_post(user=counselor, role="counselor", starts_at=start, ends_at=start + timedelta(hours=2))
    _slot, session = matching.slot_post(user=client, role="client", starts_at=start, ends_at=start + timedelta(hours=2))
    assert session is not None
    assert _kinds(counselor) == [NotificationKind.MATCHED] and _kinds(client) == [NotificationKind.MATCHED]
    assert Notification.objects.get(user=client).params["partner"] == counselor.profile.display_name


@pytest.mark.django_db
def test_reschedule_and_cancel_notify_the_partner_not_the_one_who_did_it():
    session = _scheduled(24 * 60)
    matching.session_reschedule(session=session, user=session.client, starts_at=session.starts_at + timedelta(hours=1))
    assert _kinds(session.counselor) == [NotificationKind.RESCHEDULED] and _kinds(session.client) == []
    matching.session_cancel(session=session, user=session.counselor)
    assert _kinds(session.client) == [NotificationKind.CANCELLED]
    assert _kinds(session.counselor) == [NotificationKind.RESCHEDULED]


@pytest.mark.django_db
def test_the_five_minute_reminder_is_sent_once_per_start_time():
    soon, later = _scheduled(4), _scheduled(30)
    assert remind_starting_sessions() == 2  # the beat task: both participants of the session due soon
    assert sessions_remind_starting() == 0  # every minute again: nothing new
    assert _kinds(soon.client) == [NotificationKind.STARTING_SOON]
    assert _kinds(later.client) == []
    # Moved to another time within 5 minutes: reminded again for the new start.
    soon.starts_at += timedelta(minutes=1)
    soon.save()
    assert sessions_remind_starting() == 2


@pytest.mark.django_db
def test_email_goes_out_in_the_chosen_language_and_can_be_turned_off(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    session = _scheduled(4)
    user = session.client
    user.email = "client@example.org"
    user.save()
    user.profile.email_language = "en"
    user.profile.save()
    n = notification_create(user=user, kind=NotificationKind.STARTING_SOON, session=session, params={"partner": "Aki"})
    assert notification_email_send(notification_id=n.pk) is True
    assert notification_email_send(notification_id=n.pk) is False  # once only
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["client@example.org"]
    assert "starts in 5 minutes" in message.body and "Aki" in message.body
    assert not JAPANESE.search(message.subject + message.body)
    user.profile.email_notifications = False
    user.profile.save()
    second = notification_create(user=user, kind=NotificationKind.MATCHED, session=session)
    assert notification_email_send(notification_id=second.pk) is False
    settings.EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"  # no backend configured
    user.profile.email_notifications = True
    user.profile.save()
    assert notification_email_send(notification_id=second.pk) is False
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_list_badge_and_mark_read_in_english(client):
    session = _scheduled(24 * 60)
    user = session.client
    notification_create(user=user, kind=NotificationKind.MATCHED, session=session, params={"partner": "Ken"})
    client.force_login(user)
    client.cookies.load({"django_language": "en"})
    page = client.get(reverse("roleplay:notifications")).content.decode()
    assert "You have a new role-play with Ken" in page
    assert 'id="notif-count">1</span>' in page
    badge = client.get(reverse("roleplay:notification_badge")).json()
    assert badge["unread"] == 1 and badge["latest"].startswith("You have a new role-play with Ken")
    client.post(reverse("roleplay:notifications_read"))
    assert client.get(reverse("roleplay:notification_badge")).json() == {"unread": 0, "latest": ""}


@pytest.mark.django_db
def test_profile_saves_the_email_settings(client):
    user = UserFactory()
    client.force_login(user)
    p = user.profile
    data = {
        "display_name": p.display_name,
        "gender": "",
        "age_band": "",
        "qualification": p.qualification,
        "training_hours": 0,
        "preferred_role": p.preferred_role,
        "email": "me@example.org",
        "email_language": "en",
    }  # email_notifications unchecked = off
    assert client.post(reverse("profile"), data).status_code == 302
    user.refresh_from_db()
    assert (user.email, user.profile.email_notifications, user.profile.email_language) == (
        "me@example.org",
        False,
        "en",
    )
    data["email"] = "not an address"
    assert client.post(reverse("profile"), data).status_code == 200
    user.refresh_from_db()
    assert user.email == "me@example.org"  # nothing half-saved


@pytest.mark.django_db(transaction=True)
async def test_the_unread_count_is_pushed_live_to_the_notification_socket(layer):
    from django.contrib.auth.models import AnonymousUser

    session = await database_sync_to_async(_scheduled)(60)
    user = await database_sync_to_async(lambda: session.client)()
    anonymous = WebsocketCommunicator(APP, "/ws/notifications/")
    anonymous.scope["user"] = AnonymousUser()
    connected, code = await anonymous.connect()
    assert (connected, code) == (False, 4401)
    ws = WebsocketCommunicator(APP, "/ws/notifications/")
    ws.scope["user"] = user
    connected, _ = await ws.connect()
    assert connected
    assert await ws.receive_json_from(timeout=5) == {"type": "notification", "unread": 0}
    await database_sync_to_async(notification_create)(user=user, kind=NotificationKind.MATCHED, session=session)
    assert await ws.receive_json_from(timeout=5) == {"type": "notification", "unread": 1}
    await ws.disconnect()


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_the_email_after_the_commit(redis_required, settings):
    from celery.contrib.testing.worker import start_worker

    from kokoro_site.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    session = _scheduled(24 * 60)
    session.counselor.email = "c@example.org"
    session.counselor.save()
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, queues=["default"]):
        matching.session_reschedule(
            session=session, user=session.client, starts_at=session.starts_at + timedelta(hours=1)
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not mail.outbox:
            time.sleep(0.2)
    assert [m.to for m in mail.outbox] == [["c@example.org"]]
    assert Notification.objects.get(user=session.counselor).emailed_at is not None
