"""Reads for the dashboard, scheduling, set-up and history pages."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet
from django.utils import timezone

from roleplay.models import AvailabilitySlot, Role, Session, SessionStatus, SlotStatus
from roleplay.services.matching import MAX_DURATION_MINUTES

# "Join now" shows this long before the start (participants may wait in the room).
JOIN_WINDOW = timedelta(minutes=10)


def _mine(user: AbstractBaseUser) -> Q:
    return Q(counselor=user) | Q(client=user)


def _with_people(qs: QuerySet[Session]) -> QuerySet[Session]:
    return qs.select_related("counselor__profile", "client__profile")


@dataclass(frozen=True)
class SessionCard:
    """One session as a participant sees it."""

    session: Session
    my_role: str
    partner_name: str
    can_join: bool
    can_change: bool
    # Joinable but not started yet: the room is a waiting room until ``starts_at``.
    waiting: bool = False

    @property
    def is_counselor(self) -> bool:
        return self.my_role == Role.COUNSELOR


def _display_name(user) -> str:
    if user is None:
        return "—"
    profile = getattr(user, "profile", None)
    return (profile.display_name if profile else "") or user.get_username()


def session_card(*, session: Session, user: AbstractBaseUser, now: datetime | None = None) -> SessionCard:
    now = now or timezone.now()
    my_role = session.role_of(user) or ""
    partner = session.client if my_role == Role.COUNSELOR else session.counselor
    live = session.status == SessionStatus.LIVE
    scheduled = session.status == SessionStatus.SCHEDULED
    return SessionCard(
        session=session,
        my_role=my_role,
        partner_name=_display_name(partner),
        can_join=live or (scheduled and session.starts_at - JOIN_WINDOW <= now < session.ends_at),
        can_change=scheduled and session.starts_at > now,
        waiting=scheduled and now < session.starts_at,
    )


def sessions_upcoming_for(*, user: AbstractBaseUser, now: datetime | None = None) -> list[SessionCard]:
    """Live sessions first, then scheduled ones that have not ended yet, soonest first."""
    now = now or timezone.now()
    qs = _with_people(
        Session.objects.filter(_mine(user), status__in=(SessionStatus.SCHEDULED, SessionStatus.LIVE))
    ).order_by("starts_at")
    cards = [session_card(session=s, user=user, now=now) for s in qs]
    cards = [c for c in cards if c.session.status == SessionStatus.LIVE or c.session.ends_at > now]
    return sorted(cards, key=lambda c: (c.session.status != SessionStatus.LIVE, c.session.starts_at))


def sessions_past_for(*, user: AbstractBaseUser, now: datetime | None = None) -> QuerySet[Session]:
    """Ended and cancelled sessions, plus scheduled ones nobody joined (shown as "not held")."""
    now = now or timezone.now()
    missed = Q(status=SessionStatus.SCHEDULED, starts_at__lt=now - timedelta(minutes=MAX_DURATION_MINUTES))
    return _with_people(
        Session.objects.filter(_mine(user)).filter(
            Q(status__in=(SessionStatus.ENDED, SessionStatus.CANCELLED)) | missed
        )
    ).order_by("-starts_at", "-pk")


def session_for_participant(*, user: AbstractBaseUser, pk: int) -> Session:
    """The session if ``user`` takes part in it; ``Session.DoesNotExist`` otherwise."""
    return _with_people(Session.objects.filter(_mine(user))).get(pk=pk)


def slot_for_owner(*, user: AbstractBaseUser, pk: int) -> AvailabilitySlot:
    return AvailabilitySlot.objects.get(pk=pk, user=user)


def slots_open_for(*, user: AbstractBaseUser, now: datetime | None = None) -> QuerySet[AvailabilitySlot]:
    now = now or timezone.now()
    return AvailabilitySlot.objects.filter(user=user, status=SlotStatus.OPEN, ends_at__gt=now).order_by("starts_at")


def slots_recent_for(*, user: AbstractBaseUser, now: datetime | None = None, limit: int = 20) -> list[AvailabilitySlot]:
    """Open and matched slots that have not ended, then the latest others; for the scheduling page."""
    now = now or timezone.now()
    qs = (
        AvailabilitySlot.objects.filter(user=user, ends_at__gt=now - timedelta(days=1))
        .exclude(status=SlotStatus.CANCELLED)
        .select_related("session__counselor__profile", "session__client__profile")
        .order_by("starts_at")
    )
    return list(qs[:limit])


def open_demand(*, user: AbstractBaseUser, now: datetime | None = None) -> dict[str, int]:
    """How many other participants are waiting per role (a hint on the scheduling page)."""
    now = now or timezone.now()
    qs = AvailabilitySlot.objects.filter(status=SlotStatus.OPEN, ends_at__gt=now).exclude(user=user)
    return {role: qs.filter(role=role).values("user").distinct().count() for role in Role.values}
