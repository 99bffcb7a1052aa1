from datetime import UTC, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from roleplay.models import AvailabilitySlot, Role, Session, SessionStatus, SlotStatus
from roleplay.services import matching as m
from roleplay.topics import Topic
from tests.factories import SessionFactory, UserFactory

pytestmark = pytest.mark.django_db
FMT = "%Y-%m-%dT%H:%M"


def local(dt):
    return timezone.localtime(dt).strftime(FMT)


def scheduled(hours=3, **kwargs):
    start = (timezone.now() + timedelta(hours=hours)).replace(second=0, microsecond=0)
    return SessionFactory(status=SessionStatus.SCHEDULED, started_at=None, starts_at=start, **kwargs)


def logged_in(client, user):
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "url",
    [
        reverse("roleplay:dashboard"),
        reverse("roleplay:dashboard_upcoming"),
        reverse("roleplay:schedule"),
        reverse("roleplay:history"),
        reverse("roleplay:session_setup", args=[1]),
        reverse("roleplay:session_reschedule", args=[1]),
        reverse("profile"),
    ],
)
def test_anonymous_visitors_are_sent_to_the_login_page(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_dashboard_lists_only_my_sessions_with_join_now_for_a_live_one(client):
    me = UserFactory()
    live = SessionFactory(counselor=me)
    later = scheduled(client=me)
    others = SessionFactory()
    response = logged_in(client, me).get(reverse("roleplay:dashboard"))
    html = response.content.decode()
    assert response.status_code == 200
    assert reverse("roleplay:session", args=[live.pk]) in html
    assert reverse("roleplay:session", args=[later.pk]) in html
    assert reverse("roleplay:session", args=[others.pk]) not in html
    assert html.count("btn-join") == 1
    assert later.counselor.profile.display_name in html


def test_upcoming_partial_polls_every_30_seconds(client):
    me = UserFactory()
    session = scheduled(counselor=me)
    response = logged_in(client, me).get(reverse("roleplay:dashboard_upcoming"), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert 'hx-trigger="every 30s"' in html
    assert "<html" not in html
    assert reverse("roleplay:session_setup", args=[session.pk]) in html


def test_posting_a_slot_matches_a_waiting_partner_and_shows_it(client):
    start = (timezone.now() + timedelta(hours=2)).replace(second=0, microsecond=0)
    waiting = UserFactory()
    m.slot_post(user=waiting, role=Role.CLIENT, starts_at=start, ends_at=start + timedelta(hours=2))
    me = UserFactory()
    response = logged_in(client, me).post(
        reverse("roleplay:schedule"),
        {"role": Role.COUNSELOR, "starts_at": local(start), "ends_at": local(start + timedelta(hours=1))},
        follow=True,
    )
    session = Session.objects.get()
    assert (session.counselor, session.client, session.starts_at) == (me, waiting, start)
    assert waiting.profile.display_name in response.content.decode()


def test_slot_times_are_read_as_tokyo_time(client):
    me = UserFactory()
    start = (timezone.now() + timedelta(days=1)).astimezone(timezone.get_default_timezone())
    start = start.replace(hour=10, minute=0, second=0, microsecond=0)
    logged_in(client, me).post(
        reverse("roleplay:schedule"),
        {"role": Role.CLIENT, "starts_at": start.strftime(FMT), "ends_at": (start + timedelta(hours=2)).strftime(FMT)},
    )
    slot = AvailabilitySlot.objects.get()
    assert slot.starts_at == start
    assert slot.starts_at.astimezone(UTC).hour == 1  # 10:00 in Tokyo is 01:00 UTC


def test_a_bad_slot_shows_the_error_and_saves_nothing(client):
    me = UserFactory()
    start = timezone.now() + timedelta(hours=3)
    response = logged_in(client, me).post(
        reverse("roleplay:schedule"),
        {"role": Role.CLIENT, "starts_at": local(start), "ends_at": local(start - timedelta(hours=1))},
    )
    assert response.status_code == 200
    assert str(m.ERR_SLOT_ENDS_BEFORE_START) in response.content.decode()
    assert not AvailabilitySlot.objects.exists()


def test_a_slot_without_times_shows_required_errors(client):
    response = logged_in(client, UserFactory()).post(reverse("roleplay:schedule"), {"role": Role.CLIENT})
    assert response.status_code == 200
    assert response.context["form"].errors.keys() == {"starts_at", "ends_at"}
    assert not AvailabilitySlot.objects.exists()


def test_the_reminder_is_on_the_schedule_and_setup_pages(client):
    session = scheduled()
    logged_in(client, session.counselor)
    for url in (reverse("roleplay:schedule"), reverse("roleplay:session_setup", args=[session.pk])):
        assert 'class="reminder"' in client.get(url).content.decode()


def test_i_cannot_cancel_someone_elses_slot(client):
    start = timezone.now() + timedelta(hours=3)
    slot = AvailabilitySlot.objects.create(
        user=UserFactory(), role=Role.CLIENT, starts_at=start, ends_at=start + timedelta(hours=2)
    )
    response = logged_in(client, UserFactory()).post(reverse("roleplay:slot_cancel", args=[slot.pk]))
    assert response.status_code == 404
    slot.refresh_from_db()
    assert slot.status == SlotStatus.OPEN


def test_i_can_cancel_my_slot(client):
    me = UserFactory()
    start = timezone.now() + timedelta(hours=3)
    slot = AvailabilitySlot.objects.create(
        user=me, role=Role.CLIENT, starts_at=start, ends_at=start + timedelta(hours=2)
    )
    response = logged_in(client, me).post(reverse("roleplay:slot_cancel", args=[slot.pk]))
    assert response.status_code == 302
    slot.refresh_from_db()
    assert slot.status == SlotStatus.CANCELLED


def test_slot_cancel_needs_post(client):
    me = UserFactory()
    start = timezone.now() + timedelta(hours=3)
    slot = AvailabilitySlot.objects.create(
        user=me, role=Role.CLIENT, starts_at=start, ends_at=start + timedelta(hours=2)
    )
    assert logged_in(client, me).get(reverse("roleplay:slot_cancel", args=[slot.pk])).status_code == 405


def test_an_outsider_cannot_cancel_or_see_a_session(client):
    session = scheduled()
    logged_in(client, UserFactory())
    assert client.post(reverse("roleplay:session_cancel", args=[session.pk])).status_code == 404
    assert client.get(reverse("roleplay:session_setup", args=[session.pk])).status_code == 404
    assert client.get(reverse("roleplay:session_reschedule", args=[session.pk])).status_code == 404
    session.refresh_from_db()
    assert session.status == SessionStatus.SCHEDULED


def test_a_participant_cancels_a_session(client):
    session = scheduled()
    response = logged_in(client, session.client).post(reverse("roleplay:session_cancel", args=[session.pk]))
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.status == SessionStatus.CANCELLED


def test_cancelling_a_live_session_shows_an_error(client):
    session = SessionFactory()
    response = logged_in(client, session.client).post(
        reverse("roleplay:session_cancel", args=[session.pk]), follow=True
    )
    assert str(m.ERR_SESSION_NOT_SCHEDULED) in response.content.decode()
    session.refresh_from_db()
    assert session.status == SessionStatus.LIVE


def _setup_data(**overrides):
    return {
        "topic": Topic.FAMILY_SPOUSE,
        "topic_sub": "",
        "client_state": "架空：最近ため息が増えた",
        "suicidal_ideation": "no",
        "duration_minutes": "45",
    } | overrides


def test_the_counselor_saves_the_setup(client):
    session = scheduled()
    response = logged_in(client, session.counselor).post(
        reverse("roleplay:session_setup", args=[session.pk]), _setup_data()
    )
    assert response.status_code == 302
    session.refresh_from_db()
    assert (session.topic, session.suicidal_ideation, session.duration_minutes) == (Topic.FAMILY_SPOUSE, False, 45)


def test_the_setup_form_keeps_not_set_as_unset(client):
    session = scheduled(suicidal_ideation=True)
    logged_in(client, session.counselor).post(
        reverse("roleplay:session_setup", args=[session.pk]), _setup_data(topic="", suicidal_ideation="")
    )
    session.refresh_from_db()
    assert (session.topic, session.suicidal_ideation) == ("", None)


def test_the_client_sees_the_setup_read_only_and_cannot_post_it(client):
    session = scheduled()
    logged_in(client, session.client)
    page = client.get(reverse("roleplay:session_setup", args=[session.pk]))
    assert page.status_code == 200 and not page.context["editable"]
    assert 'name="topic"' not in page.content.decode()
    response = client.post(reverse("roleplay:session_setup", args=[session.pk]), _setup_data())
    assert response.status_code == 403
    assert str(m.ERR_SETUP_NOT_COUNSELOR) in response.content.decode()
    session.refresh_from_db()
    assert session.topic == ""


def test_setup_after_the_start_shows_an_error_and_saves_nothing(client):
    session = SessionFactory(status=SessionStatus.SCHEDULED, starts_at=timezone.now() - timedelta(minutes=1))
    response = logged_in(client, session.counselor).post(
        reverse("roleplay:session_setup", args=[session.pk]), _setup_data()
    )
    assert str(m.ERR_SESSION_ALREADY_STARTED) in response.content.decode()
    session.refresh_from_db()
    assert session.topic == ""


def test_a_duration_out_of_range_is_a_form_error(client):
    session = scheduled()
    response = logged_in(client, session.counselor).post(
        reverse("roleplay:session_setup", args=[session.pk]), _setup_data(duration_minutes="200")
    )
    assert response.status_code == 200 and "duration_minutes" in response.context["form"].errors
    session.refresh_from_db()
    assert session.duration_minutes == 60


def test_reschedule_moves_the_session_and_rejects_a_past_time(client):
    session = scheduled()
    logged_in(client, session.client)
    url = reverse("roleplay:session_reschedule", args=[session.pk])
    bad = client.post(url, {"starts_at": local(timezone.now() - timedelta(hours=1))})
    assert str(m.ERR_RESCHEDULE_IN_PAST) in bad.content.decode()
    new_start = session.starts_at + timedelta(hours=5)
    assert client.post(url, {"starts_at": local(new_start)}).status_code == 302
    session.refresh_from_db()
    assert session.starts_at == new_start


def test_history_is_paginated_and_shows_only_my_past_sessions(client):
    me = UserFactory()
    base = timezone.now() - timedelta(days=30)
    for i in range(23):
        SessionFactory(counselor=me, status=SessionStatus.ENDED, starts_at=base + timedelta(days=i))
    SessionFactory(status=SessionStatus.ENDED)
    logged_in(client, me)
    first = client.get(reverse("roleplay:history"))
    second = client.get(reverse("roleplay:history") + "?page=2")
    assert len(first.context["cards"]) == 20 and len(second.context["cards"]) == 3
    assert first.context["cards"][0].session.starts_at > first.context["cards"][-1].session.starts_at
    assert all(c.my_role == Role.COUNSELOR for c in first.context["cards"])


def test_a_scheduled_session_nobody_joined_shows_as_not_held_in_history(client):
    me = UserFactory()
    missed = SessionFactory(
        client=me, status=SessionStatus.SCHEDULED, started_at=None, starts_at=timezone.now() - timedelta(hours=5)
    )
    upcoming = scheduled(client=me)
    response = logged_in(client, me).get(reverse("roleplay:history"))
    assert [c.session for c in response.context["cards"]] == [missed]
    assert upcoming not in [c.session for c in response.context["cards"]]
    assert "未実施" in response.content.decode()


def test_slot_form_defaults_to_the_users_preferred_role(client):
    from roleplay.models import PreferredRole

    me = UserFactory()
    me.profile.preferred_role = PreferredRole.CLIENT
    me.profile.save()
    client.force_login(me)
    assert client.get(reverse("roleplay:schedule")).context["form"].initial["role"] == "client"
