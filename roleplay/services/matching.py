"""Availability slots, matching and the life of a scheduled session before it starts.

Locking (PostgreSQL; SQLite serialises writers on its own):
every write that can create, move or cancel a session first locks the ``Profile`` rows of
all users involved in ONE ``SELECT ... FOR UPDATE ORDER BY user_id`` and only then the
slot rows (ordered by id). A transaction never takes a second batch of profile locks (the
re-match after a cancellation runs in its own transaction, after commit), so two
transactions can never wait on each other in a cycle. Everything is re-read after the
locks are held: what was seen before locking is only a hint.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from roleplay.models import AvailabilitySlot, Profile, Role, Session, SessionStatus, SlotStatus
from roleplay.services.accounts import profile_ensure
from roleplay.topics import Topic

logger = logging.getLogger(__name__)

ERR_NAIVE_DATETIME = _("Times must include a time zone.")
ERR_BAD_ROLE = _("Choose counselor or client.")
ERR_SLOT_ENDS_BEFORE_START = _("The end must be after the start.")
ERR_SLOT_IN_PAST = _("The time slot must not start in the past.")
ERR_SLOT_TOO_SHORT = _("The time slot must be at least as long as a session (%(minutes)s minutes).")
ERR_SLOT_TOO_LONG = _("A time slot can last at most 24 hours.")
ERR_SLOT_TOO_FAR = _("Time slots can be posted at most 60 days ahead.")
ERR_SLOT_OVERLAPS_OWN = _("You already have an open time slot overlapping this one.")
ERR_SLOT_NOT_YOURS = _("This time slot is not yours.")
ERR_SLOT_NOT_OPEN = _("This time slot is no longer open.")
ERR_SLOT_SESSION_STARTED = _("The session of this time slot has already started; it can no longer be cancelled.")
ERR_NOT_PARTICIPANT = _("You are not a participant of this session.")
ERR_SESSION_NOT_SCHEDULED = _("Only a scheduled session that has not started yet can be changed.")
ERR_SESSION_ALREADY_STARTED = _("The session has already started; it can no longer be changed.")
ERR_RESCHEDULE_IN_PAST = _("The new start must be in the future.")
ERR_RESCHEDULE_SAME = _("The new start is the same as the current one.")
ERR_BUSY_SELF = _("You already have another session at that time.")
ERR_BUSY_PARTNER = _("Your partner already has another session at that time.")
ERR_SETUP_NOT_COUNSELOR = _("Only the participant playing the counselor can set up the session.")
ERR_DURATION_RANGE = _("The duration must be between %(min)s and %(max)s minutes.")
ERR_BAD_TOPIC = _("Choose one of the listed topics.")
ERR_TOPIC_SUB_TOO_LONG = _("The sub-topic can have at most 200 characters.")
ERR_CLIENT_STATE_TOO_LONG = _("The psychological state can have at most 2000 characters.")

MIN_DURATION_MINUTES = 15
MAX_DURATION_MINUTES = 120
MAX_SLOT_HOURS = 24
MAX_DAYS_AHEAD = 60
# datetime-local inputs have minute precision: a slot "from now" may start a little in the past.
PAST_TOLERANCE = timedelta(minutes=5)
MAX_CANDIDATES = 20
ACTIVE_STATUSES = (SessionStatus.SCHEDULED, SessionStatus.LIVE)


def default_duration() -> int:
    return settings.KOKORO_DEFAULT_SESSION_MINUTES


def opposite_role(role: str) -> str:
    return Role.CLIENT if role == Role.COUNSELOR else Role.COUNSELOR


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _require_aware(*values: datetime) -> None:
    for value in values:
        if value is None or timezone.is_naive(value):
            raise ValidationError(ERR_NAIVE_DATETIME)


def _lock_profiles(user_ids: Iterable[int]) -> None:
    """Lock the profiles of ``user_ids`` in user-id order (the one global lock order)."""
    ids = sorted(set(user_ids))
    list(Profile.objects.select_for_update().filter(user_id__in=ids).order_by("user_id").values_list("pk", flat=True))


def _lock_slots(slot_ids: Iterable[int]) -> dict[int, AvailabilitySlot]:
    slots = AvailabilitySlot.objects.select_for_update().filter(pk__in=sorted(set(slot_ids))).order_by("pk")
    return {slot.pk: slot for slot in slots}


def _busy_intervals(
    *, user_ids: Iterable[int], start: datetime, end: datetime, exclude_session_id: int | None = None, now: datetime
) -> list[tuple[datetime, datetime]]:
    """Scheduled/live sessions of any of ``user_ids`` overlapping [start, end)."""
    ids = list(user_ids)
    qs = Session.objects.filter(
        Q(counselor_id__in=ids) | Q(client_id__in=ids),
        status__in=ACTIVE_STATUSES,
        starts_at__lt=end,
        starts_at__gt=start - timedelta(minutes=MAX_DURATION_MINUTES * 4),
    )
    if exclude_session_id is not None:
        qs = qs.exclude(pk=exclude_session_id)
    intervals = []
    for session in qs.only("starts_at", "duration_minutes", "status"):
        session_end = session.ends_at
        if session.status == SessionStatus.LIVE:
            session_end = max(session_end, now)  # a live session keeps both busy until it really ends
        if session_end > start:
            intervals.append((session.starts_at, session_end))
    return sorted(intervals)


def _is_busy(
    *, user_id: int, start: datetime, end: datetime, exclude_session_id: int | None = None, now: datetime
) -> bool:
    return bool(
        _busy_intervals(user_ids=[user_id], start=start, end=end, exclude_session_id=exclude_session_id, now=now)
    )


def earliest_free_start(
    *, window_start: datetime, window_end: datetime, minutes: int, busy: list[tuple[datetime, datetime]]
) -> datetime | None:
    """Earliest start in the window where ``minutes`` fit without touching a busy interval."""
    length = timedelta(minutes=minutes)
    start = window_start
    for busy_start, busy_end in sorted(busy):
        if busy_start < start + length and busy_end > start:
            start = max(start, busy_end)
    return start if start + length <= window_end else None


def _minute_ceil(value: datetime) -> datetime:
    floored = value.replace(second=0, microsecond=0)
    return floored if floored == value else floored + timedelta(minutes=1)


# --- slots ---------------------------------------------------------------------------------


@transaction.atomic
def slot_create(
    *, user: AbstractBaseUser, role: str, starts_at: datetime, ends_at: datetime, now: datetime | None = None
) -> AvailabilitySlot:
    """Store an open time slot (validated); matching is a separate step, see ``slot_post``."""
    now = _now(now)
    _require_aware(starts_at, ends_at)
    minutes = default_duration()
    if role not in Role.values:
        raise ValidationError({"role": [ERR_BAD_ROLE]})
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": [ERR_SLOT_ENDS_BEFORE_START]})
    if starts_at < now - PAST_TOLERANCE:
        raise ValidationError({"starts_at": [ERR_SLOT_IN_PAST]})
    if ends_at - starts_at > timedelta(hours=MAX_SLOT_HOURS):
        raise ValidationError({"ends_at": [ERR_SLOT_TOO_LONG]})
    if starts_at > now + timedelta(days=MAX_DAYS_AHEAD):
        raise ValidationError({"starts_at": [ERR_SLOT_TOO_FAR]})
    if ends_at - max(starts_at, now) < timedelta(minutes=minutes):
        raise ValidationError({"ends_at": [ValidationError(ERR_SLOT_TOO_SHORT, params={"minutes": minutes})]})
    profile_ensure(user=user)
    _lock_profiles([user.pk])
    if AvailabilitySlot.objects.filter(
        user=user, status=SlotStatus.OPEN, starts_at__lt=ends_at, ends_at__gt=starts_at
    ).exists():
        raise ValidationError(ERR_SLOT_OVERLAPS_OWN)
    return AvailabilitySlot.objects.create(user=user, role=role, starts_at=starts_at, ends_at=ends_at, created_at=now)


@dataclass(frozen=True)
class _Candidate:
    slot_id: int
    user_id: int


def _candidates_for(slot: AvailabilitySlot, *, minutes: int, now: datetime) -> list[_Candidate]:
    length = timedelta(minutes=minutes)
    qs = (
        AvailabilitySlot.objects.filter(
            status=SlotStatus.OPEN,
            role=opposite_role(slot.role),
            starts_at__lte=slot.ends_at - length,
            ends_at__gte=max(slot.starts_at, now) + length,
        )
        .exclude(user_id=slot.user_id)
        .order_by("starts_at", "created_at", "pk")
        .values_list("pk", "user_id")[:MAX_CANDIDATES]
    )
    return [_Candidate(pk, user_id) for pk, user_id in qs]


@transaction.atomic
def slot_match(*, slot_id: int, now: datetime | None = None) -> Session | None:
    """Pair an open slot with the best open slot of the opposite role, or leave it open.

    The best partner is the one with the earliest common start where both are free for a
    whole session; ties go to the partner who posted first.
    """
    now = _now(now)
    minutes = default_duration()
    try:
        slot = AvailabilitySlot.objects.get(pk=slot_id)
    except AvailabilitySlot.DoesNotExist:
        return None
    if slot.status != SlotStatus.OPEN:
        return None
    candidates = _candidates_for(slot, minutes=minutes, now=now)
    if not candidates:
        return None
    _lock_profiles([slot.user_id, *(c.user_id for c in candidates)])
    locked = _lock_slots([slot.pk, *(c.slot_id for c in candidates)])
    own = locked.get(slot.pk)
    if own is None or own.status != SlotStatus.OPEN:
        return None  # matched or cancelled by a concurrent request while we waited
    best: tuple[datetime, datetime, AvailabilitySlot] | None = None
    for candidate in candidates:
        other = locked.get(candidate.slot_id)
        if other is None or other.status != SlotStatus.OPEN or other.user_id != candidate.user_id:
            continue
        window_start = _minute_ceil(max(own.starts_at, other.starts_at, now))
        window_end = min(own.ends_at, other.ends_at)
        busy = _busy_intervals(user_ids=[own.user_id, other.user_id], start=window_start, end=window_end, now=now)
        start = earliest_free_start(window_start=window_start, window_end=window_end, minutes=minutes, busy=busy)
        if start is None:
            continue
        key = (start, other.created_at, other)
        if best is None or key[:2] < best[:2]:
            best = key
    if best is None:
        return None
    start, _created, other = best
    counselor_slot, client_slot = (own, other) if own.role == Role.COUNSELOR else (other, own)
    session = Session.objects.create(
        counselor_id=counselor_slot.user_id,
        client_id=client_slot.user_id,
        starts_at=start,
        duration_minutes=minutes,
        status=SessionStatus.SCHEDULED,
        created_at=now,
    )
    for matched in (own, other):
        matched.status = SlotStatus.MATCHED
        matched.session = session
        matched.save(update_fields=["status", "session"])
    return session


def slot_post(
    *, user: AbstractBaseUser, role: str, starts_at: datetime, ends_at: datetime, now: datetime | None = None
) -> tuple[AvailabilitySlot, Session | None]:
    """Create a slot, then try to match it in a second transaction.

    Two steps on purpose: once the slot is committed, a concurrent poster of the opposite
    role sees it, so two matching slots posted at the same moment still find each other.
    """
    slot = slot_create(user=user, role=role, starts_at=starts_at, ends_at=ends_at, now=now)
    session = slot_match(slot_id=slot.pk, now=now)
    slot.refresh_from_db()
    return slot, session


@transaction.atomic
def slot_cancel(*, slot: AvailabilitySlot, user: AbstractBaseUser, now: datetime | None = None) -> AvailabilitySlot:
    """Cancel my slot; a matched slot cancels its scheduled session (the partner's slot re-opens)."""
    now = _now(now)
    if slot.user_id != user.pk:
        raise ValidationError(ERR_SLOT_NOT_YOURS)
    if slot.session_id is not None:
        session = Session.objects.get(pk=slot.session_id)
        if session.status != SessionStatus.SCHEDULED or session.starts_at <= now:
            raise ValidationError(ERR_SLOT_SESSION_STARTED)
        session_cancel(session=session, user=user, now=now)
        slot.refresh_from_db()
        return slot
    _lock_profiles([user.pk])
    locked = _lock_slots([slot.pk])[slot.pk]
    if locked.status != SlotStatus.OPEN:
        raise ValidationError(ERR_SLOT_NOT_OPEN)
    locked.status = SlotStatus.CANCELLED
    locked.save(update_fields=["status"])
    return locked


# --- scheduled sessions --------------------------------------------------------------------


def _lock_session_for_change(*, session: Session, user: AbstractBaseUser, now: datetime) -> Session:
    if user.pk not in (session.counselor_id, session.client_id):
        raise ValidationError(ERR_NOT_PARTICIPANT)
    _lock_profiles([uid for uid in (session.counselor_id, session.client_id) if uid])
    locked = Session.objects.select_for_update().get(pk=session.pk)
    if locked.status != SessionStatus.SCHEDULED:
        raise ValidationError(ERR_SESSION_NOT_SCHEDULED)
    if locked.starts_at <= now:
        raise ValidationError(ERR_SESSION_ALREADY_STARTED)
    return locked


@transaction.atomic
def session_cancel(*, session: Session, user: AbstractBaseUser, now: datetime | None = None) -> Session:
    """Cancel a scheduled session: my slot is cancelled, my partner's re-opens and is re-matched."""
    now = _now(now)
    locked = _lock_session_for_change(session=session, user=user, now=now)
    locked.status = SessionStatus.CANCELLED
    locked.end_reason = ""
    locked.save(update_fields=["status", "end_reason"])
    reopened: list[int] = []
    for slot in _lock_slots(locked.slots.values_list("pk", flat=True)).values():
        if slot.user_id == user.pk or slot.ends_at - max(slot.starts_at, now) < timedelta(minutes=default_duration()):
            slot.status = SlotStatus.CANCELLED
        else:
            slot.status = SlotStatus.OPEN
            reopened.append(slot.pk)
        slot.session = None
        slot.save(update_fields=["status", "session"])
    for slot_id in reopened:
        transaction.on_commit(lambda slot_id=slot_id: _rematch_quietly(slot_id))
    return locked


def _rematch_quietly(slot_id: int) -> None:
    try:
        slot_match(slot_id=slot_id)
    except Exception:  # the slot stays open; the next poster of the opposite role can still match it
        logger.exception("re-matching slot %s failed", slot_id)


def _check_free(*, session: Session, start: datetime, minutes: int, user: AbstractBaseUser, now: datetime) -> None:
    end = start + timedelta(minutes=minutes)
    for uid in (session.counselor_id, session.client_id):
        if uid and _is_busy(user_id=uid, start=start, end=end, exclude_session_id=session.pk, now=now):
            raise ValidationError(ERR_BUSY_SELF if uid == user.pk else ERR_BUSY_PARTNER)


@transaction.atomic
def session_reschedule(
    *, session: Session, user: AbstractBaseUser, starts_at: datetime, now: datetime | None = None
) -> Session:
    """Either participant moves a scheduled session to a new start where both are free."""
    now = _now(now)
    _require_aware(starts_at)
    locked = _lock_session_for_change(session=session, user=user, now=now)
    if starts_at <= now:
        raise ValidationError({"starts_at": [ERR_RESCHEDULE_IN_PAST]})
    if starts_at > now + timedelta(days=MAX_DAYS_AHEAD):
        raise ValidationError({"starts_at": [ERR_SLOT_TOO_FAR]})
    if starts_at == locked.starts_at:
        raise ValidationError({"starts_at": [ERR_RESCHEDULE_SAME]})
    _check_free(session=locked, start=starts_at, minutes=locked.duration_minutes, user=user, now=now)
    locked.starts_at = starts_at
    locked.save(update_fields=["starts_at"])
    return locked


@transaction.atomic
def session_setup_update(
    *,
    session: Session,
    user: AbstractBaseUser,
    topic: str = "",
    topic_sub: str = "",
    client_state: str = "",
    suicidal_ideation: bool | None = None,
    duration_minutes: int | None = None,
    now: datetime | None = None,
) -> Session:
    """The counselor-role participant sets the scenario before the start (empty = the client decides)."""
    now = _now(now)
    if user.pk not in (session.counselor_id, session.client_id):
        raise ValidationError(ERR_NOT_PARTICIPANT)
    if user.pk != session.counselor_id:
        raise ValidationError(ERR_SETUP_NOT_COUNSELOR)
    duration = default_duration() if duration_minutes is None else duration_minutes
    errors: dict[str, list] = {}
    if topic not in ("", *Topic.values):
        errors["topic"] = [ERR_BAD_TOPIC]
    topic_sub = (topic_sub or "").strip()
    if len(topic_sub) > 200:
        errors["topic_sub"] = [ERR_TOPIC_SUB_TOO_LONG]
    client_state = (client_state or "").strip()
    if len(client_state) > 2000:
        errors["client_state"] = [ERR_CLIENT_STATE_TOO_LONG]
    if not isinstance(duration, int) or not MIN_DURATION_MINUTES <= duration <= MAX_DURATION_MINUTES:
        errors["duration_minutes"] = [
            ValidationError(ERR_DURATION_RANGE, params={"min": MIN_DURATION_MINUTES, "max": MAX_DURATION_MINUTES})
        ]
    if errors:
        raise ValidationError(errors)
    locked = _lock_session_for_change(session=session, user=user, now=now)
    if duration > locked.duration_minutes:
        _check_free(session=locked, start=locked.starts_at, minutes=duration, user=user, now=now)
    locked.topic = topic
    locked.topic_sub = topic_sub
    locked.client_state = client_state
    locked.suicidal_ideation = suicidal_ideation
    locked.duration_minutes = duration
    locked.save(update_fields=["topic", "topic_sub", "client_state", "suicidal_ideation", "duration_minutes"])
    return locked


@transaction.atomic
def session_book(
    *,
    counselor: AbstractBaseUser,
    client: AbstractBaseUser,
    starts_at: datetime,
    duration_minutes: int | None = None,
    live: bool = False,
    now: datetime | None = None,
) -> Session:
    """Book a session between two given users directly (demo data, administrators).

    Same double-booking rule as matching; ``live=True`` starts it at once.
    """
    now = _now(now)
    _require_aware(starts_at)
    minutes = default_duration() if duration_minutes is None else duration_minutes
    if counselor.pk == client.pk:
        raise ValidationError(ERR_NOT_PARTICIPANT)
    if not MIN_DURATION_MINUTES <= minutes <= MAX_DURATION_MINUTES:
        raise ValidationError(ERR_DURATION_RANGE, params={"min": MIN_DURATION_MINUTES, "max": MAX_DURATION_MINUTES})
    for user in (counselor, client):
        profile_ensure(user=user)
    _lock_profiles([counselor.pk, client.pk])
    end = starts_at + timedelta(minutes=minutes)
    for user in (counselor, client):
        if _is_busy(user_id=user.pk, start=starts_at, end=end, now=now):
            raise ValidationError(ERR_BUSY_SELF if user.pk == counselor.pk else ERR_BUSY_PARTNER)
    return Session.objects.create(
        counselor=counselor,
        client=client,
        starts_at=starts_at,
        duration_minutes=minutes,
        status=SessionStatus.LIVE if live else SessionStatus.SCHEDULED,
        started_at=starts_at if live else None,
        created_at=now,
    )
