import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from roleplay.models import AvailabilitySlot, Role, Session, SessionStatus, SlotStatus
from roleplay.services import matching as m
from roleplay.topics import Topic
from tests.factories import SessionFactory, UserFactory

TOKYO = ZoneInfo("Asia/Tokyo")
NOW = datetime(2030, 1, 7, 8, 0, tzinfo=TOKYO)


def at(hour: int, minute: int = 0, day: int = 0) -> datetime:
    return NOW.replace(hour=hour, minute=minute) + timedelta(days=day)


def post(user, role, start, end, now=NOW):
    return m.slot_post(user=user, role=role, starts_at=start, ends_at=end, now=now)


def messages_of(exc: pytest.ExceptionInfo) -> list[str]:
    return exc.value.messages


pytestmark = pytest.mark.django_db


# --- matching rules ---------------------------------------------------------------------------


def test_opposite_roles_with_overlap_are_matched_at_the_earliest_common_start():
    counselor, client = UserFactory(), UserFactory()
    first, none = post(counselor, Role.COUNSELOR, at(10), at(13))
    assert none is None and first.status == SlotStatus.OPEN
    second, session = post(client, Role.CLIENT, at(11, 30), at(14))
    assert session is not None
    assert (session.counselor, session.client) == (counselor, client)
    assert session.starts_at == at(11, 30)
    assert session.status == SessionStatus.SCHEDULED
    assert session.duration_minutes == 60
    first.refresh_from_db()
    assert first.status == second.status == SlotStatus.MATCHED
    assert first.session == second.session == session


def test_same_role_is_never_matched():
    post(UserFactory(), Role.CLIENT, at(10), at(12))
    _slot, session = post(UserFactory(), Role.CLIENT, at(10), at(12))
    assert session is None
    assert not Session.objects.exists()


def test_overlap_shorter_than_the_session_duration_is_not_matched():
    post(UserFactory(), Role.COUNSELOR, at(10), at(11, 30))
    slot, session = post(UserFactory(), Role.CLIENT, at(10, 31), at(12))
    assert session is None and slot.status == SlotStatus.OPEN


def test_overlap_of_exactly_the_duration_is_matched(settings):
    settings.KOKORO_DEFAULT_SESSION_MINUTES = 30
    post(UserFactory(), Role.COUNSELOR, at(10), at(11))
    _slot, session = post(UserFactory(), Role.CLIENT, at(10, 30), at(12))
    assert session is not None and session.starts_at == at(10, 30) and session.duration_minutes == 30


def test_a_participant_is_never_matched_with_themselves():
    user = UserFactory()
    AvailabilitySlot.objects.create(user=user, role=Role.COUNSELOR, starts_at=at(10), ends_at=at(12))
    mine = AvailabilitySlot.objects.create(user=user, role=Role.CLIENT, starts_at=at(10), ends_at=at(12))
    assert m.slot_match(slot_id=mine.pk, now=NOW) is None
    assert not Session.objects.exists()


def test_a_busy_participant_is_not_double_booked():
    client = UserFactory()
    SessionFactory(client=client, starts_at=at(10), status=SessionStatus.SCHEDULED, started_at=None)
    post(client, Role.CLIENT, at(10), at(12))
    _slot, session = post(UserFactory(), Role.COUNSELOR, at(10), at(11, 30))
    assert session is None  # only 11:00-11:30 is free for both


def test_matching_starts_after_an_existing_session_when_the_rest_still_fits():
    counselor = UserFactory()
    SessionFactory(counselor=counselor, starts_at=at(10), status=SessionStatus.SCHEDULED, started_at=None)
    post(counselor, Role.COUNSELOR, at(10), at(13))
    _slot, session = post(UserFactory(), Role.CLIENT, at(9, 30), at(12))
    assert session is not None and session.starts_at == at(11)


def test_the_earliest_posted_partner_wins_a_tie():
    early, late = UserFactory(), UserFactory()
    post(early, Role.CLIENT, at(10), at(12), now=NOW - timedelta(minutes=10))
    post(late, Role.CLIENT, at(10), at(12))
    _slot, session = post(UserFactory(), Role.COUNSELOR, at(10), at(12))
    assert session.client == early


def test_the_partner_with_the_earliest_common_start_is_preferred():
    post(UserFactory(), Role.CLIENT, at(11), at(13), now=NOW - timedelta(minutes=10))
    sooner = UserFactory()
    post(sooner, Role.CLIENT, at(10), at(12))
    _slot, session = post(UserFactory(), Role.COUNSELOR, at(10), at(13))
    assert session.client == sooner and session.starts_at == at(10)


def test_a_slot_starting_now_is_matched_from_the_next_full_minute():
    now = NOW.replace(minute=0, second=20)
    post(UserFactory(), Role.CLIENT, at(8), at(10), now=now)
    _slot, session = post(UserFactory(), Role.COUNSELOR, at(8), at(10), now=now)
    assert session.starts_at == at(8, 1)


def test_earliest_free_start_skips_busy_intervals():
    busy = [(at(10), at(11)), (at(11, 30), at(12))]
    assert m.earliest_free_start(window_start=at(10), window_end=at(14), minutes=60, busy=busy) == at(12)
    assert m.earliest_free_start(window_start=at(10), window_end=at(14), minutes=30, busy=busy) == at(11)
    assert m.earliest_free_start(window_start=at(10), window_end=at(12, 30), minutes=60, busy=busy) is None


# --- slot validation: a clear error and nothing saved ---------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"starts_at": datetime(2030, 1, 7, 10, 0), "ends_at": at(12)}, m.ERR_NAIVE_DATETIME),
        ({"role": "observer"}, m.ERR_BAD_ROLE),
        ({"starts_at": at(12), "ends_at": at(11)}, m.ERR_SLOT_ENDS_BEFORE_START),
        ({"starts_at": at(12), "ends_at": at(12)}, m.ERR_SLOT_ENDS_BEFORE_START),
        ({"starts_at": at(7, 50), "ends_at": at(12)}, m.ERR_SLOT_IN_PAST),
        ({"starts_at": at(10), "ends_at": at(10, 59)}, str(m.ERR_SLOT_TOO_SHORT) % {"minutes": 60}),
        ({"starts_at": at(10), "ends_at": at(10, 1, day=1)}, m.ERR_SLOT_TOO_LONG),
        ({"starts_at": at(10, day=61), "ends_at": at(12, day=61)}, m.ERR_SLOT_TOO_FAR),
    ],
)
def test_bad_slot_input_is_rejected_and_nothing_is_saved(kwargs, error):
    params = {"role": Role.CLIENT, "starts_at": at(10), "ends_at": at(12)} | kwargs
    with pytest.raises(ValidationError) as exc:
        m.slot_post(user=UserFactory(), now=NOW, **params)
    assert str(error) in messages_of(exc)
    assert not AvailabilitySlot.objects.exists()


def test_a_slot_overlapping_my_own_open_slot_is_rejected():
    user = UserFactory()
    post(user, Role.CLIENT, at(10), at(12))
    with pytest.raises(ValidationError) as exc:
        post(user, Role.COUNSELOR, at(11), at(13))
    assert str(m.ERR_SLOT_OVERLAPS_OWN) in messages_of(exc)
    assert AvailabilitySlot.objects.count() == 1


def test_a_slot_starting_a_few_minutes_ago_is_accepted():
    slot, _ = post(UserFactory(), Role.CLIENT, NOW - timedelta(minutes=4), at(10))
    assert slot.pk and slot.status == SlotStatus.OPEN


# --- cancelling -----------------------------------------------------------------------------


def _matched_pair():
    counselor, client = UserFactory(), UserFactory()
    c_slot, _ = post(counselor, Role.COUNSELOR, at(10), at(13))
    k_slot, session = post(client, Role.CLIENT, at(10), at(13))
    c_slot.refresh_from_db()
    return counselor, client, c_slot, k_slot, session


def test_cancelling_an_open_slot_marks_it_cancelled():
    user = UserFactory()
    slot, _ = post(user, Role.CLIENT, at(10), at(12))
    assert m.slot_cancel(slot=slot, user=user, now=NOW).status == SlotStatus.CANCELLED


def test_someone_else_cannot_cancel_my_slot():
    owner = UserFactory()
    slot, _ = post(owner, Role.CLIENT, at(10), at(12))
    with pytest.raises(ValidationError) as exc:
        m.slot_cancel(slot=slot, user=UserFactory(), now=NOW)
    assert str(m.ERR_SLOT_NOT_YOURS) in messages_of(exc)
    slot.refresh_from_db()
    assert slot.status == SlotStatus.OPEN


def test_a_cancelled_slot_cannot_be_cancelled_again():
    user = UserFactory()
    slot, _ = post(user, Role.CLIENT, at(10), at(12))
    m.slot_cancel(slot=slot, user=user, now=NOW)
    with pytest.raises(ValidationError) as exc:
        m.slot_cancel(slot=slot, user=user, now=NOW)
    assert str(m.ERR_SLOT_NOT_OPEN) in messages_of(exc)


def test_cancelling_a_matched_slot_cancels_the_session_and_reopens_the_partner_slot(django_capture_on_commit_callbacks):
    counselor, _client, c_slot, k_slot, session = _matched_pair()
    with django_capture_on_commit_callbacks(execute=True):
        m.slot_cancel(slot=k_slot, user=k_slot.user, now=NOW)
    session.refresh_from_db()
    c_slot.refresh_from_db()
    k_slot.refresh_from_db()
    assert session.status == SessionStatus.CANCELLED
    assert (k_slot.status, k_slot.session) == (SlotStatus.CANCELLED, None)
    assert (c_slot.status, c_slot.session) == (SlotStatus.OPEN, None)


def test_cancelling_a_session_rematches_the_partner_with_another_waiting_participant(
    django_capture_on_commit_callbacks,
):
    counselor, client, c_slot, _k_slot, session = _matched_pair()
    other_client = UserFactory()
    other_slot, none = post(other_client, Role.CLIENT, at(11), at(13))
    assert none is None
    with django_capture_on_commit_callbacks(execute=True):
        m.session_cancel(session=session, user=client, now=NOW)
    c_slot.refresh_from_db()
    other_slot.refresh_from_db()
    assert c_slot.status == other_slot.status == SlotStatus.MATCHED
    new = c_slot.session
    assert (new.counselor, new.client, new.starts_at) == (counselor, other_client, at(11))


@pytest.mark.parametrize("status", [SessionStatus.LIVE, SessionStatus.ENDED, SessionStatus.CANCELLED])
def test_only_scheduled_sessions_can_be_cancelled(status):
    session = SessionFactory(status=status, starts_at=at(10))
    with pytest.raises(ValidationError) as exc:
        m.session_cancel(session=session, user=session.counselor, now=NOW)
    assert str(m.ERR_SESSION_NOT_SCHEDULED) in messages_of(exc)
    session.refresh_from_db()
    assert session.status == status


def test_a_session_that_has_started_cannot_be_cancelled():
    session = SessionFactory(status=SessionStatus.SCHEDULED, starts_at=NOW - timedelta(minutes=1))
    with pytest.raises(ValidationError) as exc:
        m.session_cancel(session=session, user=session.client, now=NOW)
    assert str(m.ERR_SESSION_ALREADY_STARTED) in messages_of(exc)


def test_an_outsider_cannot_cancel_a_session():
    session = SessionFactory(status=SessionStatus.SCHEDULED, starts_at=at(10))
    with pytest.raises(ValidationError) as exc:
        m.session_cancel(session=session, user=UserFactory(), now=NOW)
    assert str(m.ERR_NOT_PARTICIPANT) in messages_of(exc)
    session.refresh_from_db()
    assert session.status == SessionStatus.SCHEDULED


# --- rescheduling ---------------------------------------------------------------------------


def _scheduled(**kwargs):
    return SessionFactory(status=SessionStatus.SCHEDULED, started_at=None, starts_at=at(10), **kwargs)


def test_either_participant_can_move_a_scheduled_session():
    session = _scheduled()
    m.session_reschedule(session=session, user=session.client, starts_at=at(15), now=NOW)
    session.refresh_from_db()
    assert session.starts_at == at(15)
    m.session_reschedule(session=session, user=session.counselor, starts_at=at(16), now=NOW)
    session.refresh_from_db()
    assert session.starts_at == at(16)


@pytest.mark.parametrize(
    ("new_start", "error"),
    [
        (NOW - timedelta(minutes=1), m.ERR_RESCHEDULE_IN_PAST),
        (at(10), m.ERR_RESCHEDULE_SAME),
        (at(10, day=61), m.ERR_SLOT_TOO_FAR),
        (datetime(2030, 1, 7, 15, 0), m.ERR_NAIVE_DATETIME),
    ],
)
def test_bad_reschedule_input_is_rejected_and_nothing_changes(new_start, error):
    session = _scheduled()
    with pytest.raises(ValidationError) as exc:
        m.session_reschedule(session=session, user=session.client, starts_at=new_start, now=NOW)
    assert str(error) in messages_of(exc)
    session.refresh_from_db()
    assert session.starts_at == at(10)


def test_reschedule_onto_a_time_where_the_partner_is_busy_is_rejected():
    session = _scheduled()
    SessionFactory(client=session.client, status=SessionStatus.SCHEDULED, starts_at=at(15, 30))
    with pytest.raises(ValidationError) as exc:
        m.session_reschedule(session=session, user=session.counselor, starts_at=at(15), now=NOW)
    assert str(m.ERR_BUSY_PARTNER) in messages_of(exc)
    with pytest.raises(ValidationError) as exc:
        m.session_reschedule(session=session, user=session.client, starts_at=at(15), now=NOW)
    assert str(m.ERR_BUSY_SELF) in messages_of(exc)
    session.refresh_from_db()
    assert session.starts_at == at(10)


def test_reschedule_may_overlap_its_own_old_time():
    session = _scheduled()
    m.session_reschedule(session=session, user=session.client, starts_at=at(10, 30), now=NOW)
    session.refresh_from_db()
    assert session.starts_at == at(10, 30)


def test_an_outsider_cannot_reschedule():
    session = _scheduled()
    with pytest.raises(ValidationError) as exc:
        m.session_reschedule(session=session, user=UserFactory(), starts_at=at(15), now=NOW)
    assert str(m.ERR_NOT_PARTICIPANT) in messages_of(exc)


# --- set-up ---------------------------------------------------------------------------------


def test_the_counselor_sets_up_topic_state_and_duration():
    session = _scheduled()
    m.session_setup_update(
        session=session,
        user=session.counselor,
        topic=Topic.WORKPLACE,
        topic_sub="  上司との関係  ",
        client_state="眠れない日が続いている",
        suicidal_ideation=False,
        duration_minutes=45,
        now=NOW,
    )
    session.refresh_from_db()
    assert (session.topic, session.topic_sub, session.client_state) == (
        Topic.WORKPLACE,
        "上司との関係",
        "眠れない日が続いている",
    )
    assert session.suicidal_ideation is False and session.duration_minutes == 45


def test_an_empty_setup_leaves_everything_to_the_client():
    session = _scheduled(topic=Topic.SCHOOL, suicidal_ideation=True)
    m.session_setup_update(session=session, user=session.counselor, duration_minutes=60, now=NOW)
    session.refresh_from_db()
    assert (session.topic, session.client_state, session.suicidal_ideation) == ("", "", None)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"duration_minutes": 14}, m.ERR_DURATION_RANGE),
        ({"duration_minutes": 121}, m.ERR_DURATION_RANGE),
        ({"topic": "weather"}, m.ERR_BAD_TOPIC),
        ({"topic_sub": "x" * 201}, m.ERR_TOPIC_SUB_TOO_LONG),
        ({"client_state": "x" * 2001}, m.ERR_CLIENT_STATE_TOO_LONG),
    ],
)
def test_bad_setup_input_is_rejected_and_nothing_is_saved(kwargs, error):
    session = _scheduled()
    with pytest.raises(ValidationError) as exc:
        m.session_setup_update(session=session, user=session.counselor, now=NOW, **({"topic": Topic.SCHOOL} | kwargs))
    expected = str(error) % {"min": 15, "max": 120} if error is m.ERR_DURATION_RANGE else str(error)
    assert expected in messages_of(exc)
    session.refresh_from_db()
    assert (session.topic, session.duration_minutes) == ("", 60)


def test_the_client_cannot_set_up_the_session():
    session = _scheduled()
    with pytest.raises(ValidationError) as exc:
        m.session_setup_update(session=session, user=session.client, topic=Topic.SCHOOL, now=NOW)
    assert str(m.ERR_SETUP_NOT_COUNSELOR) in messages_of(exc)
    session.refresh_from_db()
    assert session.topic == ""


def test_setup_after_the_start_is_rejected():
    session = _scheduled()
    with pytest.raises(ValidationError) as exc:
        m.session_setup_update(session=session, user=session.counselor, topic=Topic.SCHOOL, now=at(10, 1))
    assert str(m.ERR_SESSION_ALREADY_STARTED) in messages_of(exc)
    live = SessionFactory(starts_at=at(10))
    with pytest.raises(ValidationError) as exc:
        m.session_setup_update(session=live, user=live.counselor, topic=Topic.SCHOOL, now=NOW)
    assert str(m.ERR_SESSION_NOT_SCHEDULED) in messages_of(exc)
    session.refresh_from_db()
    assert session.topic == ""


def test_a_longer_duration_that_would_double_book_the_partner_is_rejected():
    session = _scheduled()
    SessionFactory(client=session.client, status=SessionStatus.SCHEDULED, starts_at=at(11, 15))
    with pytest.raises(ValidationError) as exc:
        m.session_setup_update(session=session, user=session.counselor, duration_minutes=90, now=NOW)
    assert str(m.ERR_BUSY_PARTNER) in messages_of(exc)
    m.session_setup_update(session=session, user=session.counselor, duration_minutes=75, now=NOW)
    session.refresh_from_db()
    assert session.duration_minutes == 75


def test_session_book_refuses_a_double_booking():
    session = _scheduled()
    with pytest.raises(ValidationError) as exc:
        m.session_book(counselor=session.counselor, client=UserFactory(), starts_at=at(10, 30), now=NOW)
    assert str(m.ERR_BUSY_SELF) in messages_of(exc)
    assert Session.objects.count() == 1


# --- concurrency (real PostgreSQL row locks) ------------------------------------------------


def _race(workers: int, target) -> list[BaseException]:
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            target(i)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_posters_racing_for_the_same_open_slot_create_exactly_one_session(postgres_required):
    from django.utils import timezone

    now = timezone.now()
    start, end = now + timedelta(hours=1), now + timedelta(hours=3)
    waiting = UserFactory()
    target = m.slot_post(user=waiting, role=Role.CLIENT, starts_at=start, ends_at=end)[0]
    racers = [UserFactory() for _ in range(8)]

    errors = _race(
        len(racers), lambda i: m.slot_post(user=racers[i], role=Role.COUNSELOR, starts_at=start, ends_at=end)
    )

    assert errors == []
    assert Session.objects.count() == 1
    session = Session.objects.get()
    target.refresh_from_db()
    assert target.status == SlotStatus.MATCHED and target.session == session
    assert session.client == waiting and session.counselor in racers
    assert AvailabilitySlot.objects.filter(status=SlotStatus.MATCHED).count() == 2
    assert AvailabilitySlot.objects.filter(status=SlotStatus.OPEN, role=Role.COUNSELOR).count() == len(racers) - 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_matching_never_double_books_a_participant(postgres_required):
    """One counselor with two open slots; clients race for both: the counselor gets no overlapping sessions."""
    from django.utils import timezone

    now = timezone.now().replace(second=0, microsecond=0)
    start = now + timedelta(hours=1)
    counselor = UserFactory()
    for offset in (0, 30):  # two overlapping-in-time slots (bypassing the own-overlap rule on purpose)
        AvailabilitySlot.objects.create(
            user=counselor,
            role=Role.COUNSELOR,
            starts_at=start + timedelta(minutes=offset),
            ends_at=start + timedelta(minutes=offset + 90),
        )
    clients = [UserFactory() for _ in range(6)]

    errors = _race(
        len(clients),
        lambda i: m.slot_post(user=clients[i], role=Role.CLIENT, starts_at=start, ends_at=start + timedelta(hours=2)),
    )

    assert errors == []
    sessions = list(Session.objects.filter(counselor=counselor).order_by("starts_at"))
    # Both slots get a partner, the second one only after the first session ends.
    assert [s.starts_at for s in sessions] == [start, start + timedelta(minutes=60)]
    assert sessions[0].ends_at <= sessions[1].starts_at
    assert len({s.client_id for s in sessions}) == 2
