"""Session lifecycle: begin (first participant connects at/after the start) and end.

Ending is idempotent and the side effects (``session_ended`` signal, socket notification)
run only after the ending transaction commits.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kokoro_site.errors import ServiceError
from roleplay.models import EndReason, Role, Session, SessionSource, SessionStatus
from roleplay.notify import session_notify
from roleplay.signals import session_ended

logger = logging.getLogger(__name__)

ERR_ONLY_COUNSELOR_CAN_END = _("Only the counselor can end this session.")
ERR_END_BEFORE_START = _(
    "The session has not started yet, so it cannot be ended. Cancel it from the dashboard instead."
)

ERR_START_NOW_NOT_COUNSELOR = _("Only the counselor can start the session early.")
ERR_START_NOW_NOT_WAITING = _("The session can be started early only from the waiting room, before its start.")
ERR_START_NOW_TOO_EARLY = _("The session can be started early at most %(minutes)s minutes before its start.")
ERR_BAD_PAST_TIMES = _("A past session needs aware start and end times, the end not before the start.")

OPEN_STATUSES = (SessionStatus.SCHEDULED, SessionStatus.LIVE)
# "Start now" is offered in the waiting room from this long before the scheduled start.
START_NOW_WINDOW = timedelta(minutes=10)
OBSERVER = "observer"


class SessionError(ServiceError):
    """A refused session action (``code``, ``message``), e.g. a client trying to end the session."""


def session_next_url(*, session_id: int, role: str, source: str | None = None) -> str:
    """Where a participant goes once the session has ended (feedback pages when they exist). In an AI practice
    session nobody rates the counselor's side, so the counselor goes to the practice review (when installed).
    ``source``: the session's, when the caller has it (the chat socket does: no query from the event loop)."""
    names = {Role.CLIENT: ["feedback:form"], Role.COUNSELOR: ["feedback:result"]}.get(role, [])
    if source is None and role == Role.COUNSELOR:
        source = Session.objects.filter(pk=session_id).values_list("source", flat=True).first()
    if role == Role.COUNSELOR and source == SessionSource.AI:
        names.insert(0, "practice:review")
    for name in names:
        try:
            return reverse(name, args=[session_id])
        except NoReverseMatch:
            pass
    return reverse("roleplay:session", args=[session_id])


def _locked(session_id: int) -> Session:
    return Session.objects.select_for_update().get(pk=session_id)


@transaction.atomic
def session_begin(*, session: Session) -> bool:
    """Mark a scheduled session live once its start time has come. Returns True if it began now."""
    locked = _locked(session.pk)
    now = timezone.now()
    if locked.status != SessionStatus.SCHEDULED or now < locked.starts_at or now >= locked.ends_at:
        _refresh(session, locked)
        return False
    locked.status = SessionStatus.LIVE
    locked.started_at = now
    locked.save(update_fields=["status", "started_at"])
    _refresh(session, locked)
    event = {"type": "started", "started_at": now.isoformat()}
    transaction.on_commit(lambda: session_notify(session_id=locked.pk, event=event))
    return True


@transaction.atomic
def session_start_early(*, session: Session, by) -> Session:
    """Start a scheduled session before its time: both are in the waiting room and the counselor agrees.

    The session keeps its length (it ends earlier by as much as it starts earlier). The page only
    offers the button while the client is shown as present; the server checks role and time.
    """
    if session.role_of(by) != Role.COUNSELOR:
        raise SessionError("forbidden", ERR_START_NOW_NOT_COUNSELOR)
    locked = _locked(session.pk)
    now = timezone.now()
    if locked.status != SessionStatus.SCHEDULED or locked.started_at is not None or now >= locked.starts_at:
        _refresh(session, locked)
        raise SessionError("not_waiting", ERR_START_NOW_NOT_WAITING)
    if locked.starts_at - now > START_NOW_WINDOW:
        _refresh(session, locked)
        minutes = int(START_NOW_WINDOW.total_seconds() // 60)
        raise SessionError("too_early", ERR_START_NOW_TOO_EARLY % {"minutes": minutes})
    locked.starts_at = now
    locked.status = SessionStatus.LIVE
    locked.started_at = now
    locked.save(update_fields=["starts_at", "status", "started_at"])
    _refresh(session, locked)
    session.starts_at = now
    event = {
        "type": "started",
        "started_at": now.isoformat(),
        "starts_at": now.isoformat(),
        "ends_at": locked.ends_at.isoformat(),
        "early": True,
    }
    transaction.on_commit(lambda: session_notify(session_id=locked.pk, event=event))
    return session


@transaction.atomic
def session_start_now(
    *,
    counselor,
    client,
    source: str,
    is_synthetic: bool = False,
    duration_minutes: int | None = None,
    language: str = "ja",
) -> Session:
    """A session that is live from now on (AI practice, simulations): no slot, no matching.

    ``language``: the language it is held in (English-mode practice: "en")."""
    now = timezone.now()
    return Session.objects.create(
        language=language,
        counselor=counselor,
        client=client,
        starts_at=now,
        started_at=now,
        duration_minutes=duration_minutes or settings.KOKORO_DEFAULT_SESSION_MINUTES,
        status=SessionStatus.LIVE,
        source=source,
        is_synthetic=is_synthetic,
    )


@transaction.atomic
def session_create_ended(
    *,
    counselor,
    client,
    starts_at,
    ended_at,
    end_reason: str = EndReason.COUNSELOR,
    topic: str = "",
    source: str = SessionSource.LIVE,
) -> Session:
    """A role-play that already took place (demo seed data); add its transcript with ``messages_record``.

    No ``session_ended`` signal: it is history, not an ending happening now."""
    if timezone.is_naive(starts_at) or timezone.is_naive(ended_at) or ended_at < starts_at:
        raise SessionError("bad_past_times", ERR_BAD_PAST_TIMES)
    return Session.objects.create(
        counselor=counselor,
        client=client,
        starts_at=starts_at,
        started_at=starts_at,
        ended_at=ended_at,
        status=SessionStatus.ENDED,
        end_reason=end_reason,
        topic=topic,
        source=source,
    )


@transaction.atomic
def session_topic_set(*, session_id: int, topic: str, sub: str, overwrite: bool) -> bool:
    """Store a (labelled) topic; an existing one is kept unless ``overwrite``. True if stored."""
    session = _locked(session_id)
    if session.topic and not overwrite:
        return False
    session.topic, session.topic_sub = topic, sub
    session.save(update_fields=["topic", "topic_sub"])
    return True


@transaction.atomic
def session_end(*, session: Session, reason: str, by=None, cancelled: bool = False) -> Session:
    """End the session (idempotent): the only place a session ends. ``by`` is the user pressing the
    button, if any; ``cancelled`` ends it as cancelled (a simulated session that failed)."""
    if by is not None and not by.is_staff and session.role_of(by) != Role.COUNSELOR:
        raise SessionError("forbidden", ERR_ONLY_COUNSELOR_CAN_END)
    locked = _locked(session.pk)
    if locked.status not in OPEN_STATUSES:
        _refresh(session, locked)
        return session
    if locked.started_at is None and reason != EndReason.TIME_UP and not cancelled:
        # Before the start only cancelling stops a session (the dashboard's "Cancel").
        _refresh(session, locked)
        raise SessionError("not_started", ERR_END_BEFORE_START)
    now = timezone.now()
    locked.status = SessionStatus.CANCELLED if cancelled else SessionStatus.ENDED
    locked.ended_at = now
    locked.end_reason = reason
    locked.save(update_fields=["status", "ended_at", "end_reason"])
    _refresh(session, locked)
    session_id = locked.pk
    transaction.on_commit(lambda: _after_end(session_id=session_id, reason=reason, ended_at=now))
    return session


def _after_end(*, session_id: int, reason: str, ended_at) -> None:
    session_ended.send(sender=Session, session_id=session_id)
    for role in (Role.COUNSELOR, Role.CLIENT, OBSERVER):
        event = {
            "type": "ended",
            "reason": reason,
            "ended_at": ended_at.isoformat(),
            "next_url": session_next_url(session_id=session_id, role=role),
        }
        try:
            session_notify(session_id=session_id, event=event, audience=(str(role),))
        except Exception:  # the layer is a hint; the page also learns the state on reload
            logger.exception("could not notify session %s sockets of its end", session_id)


def session_is_overdue(session: Session, *, now=None) -> bool:
    return session.status in OPEN_STATUSES and (now or timezone.now()) >= session.ends_at


def session_end_if_overdue(*, session: Session) -> bool:
    """Lazy time-up check run on connect, on send and by the timers. True if it ended now."""
    if not session_is_overdue(session):
        return False
    before = session.status
    session_end(session=session, reason=EndReason.TIME_UP)
    return before in OPEN_STATUSES and session.status == SessionStatus.ENDED


def sessions_end_overdue(*, now=None) -> list[int]:
    """End every live session whose time is up (sessions nobody is connected to).

    Never-started (scheduled) sessions are left to scheduling: nobody came, so there is
    nothing to rate.
    """
    now = now or timezone.now()
    ended: list[int] = []
    candidates = Session.objects.filter(status=SessionStatus.LIVE, starts_at__lte=now).only(
        "pk", "starts_at", "duration_minutes", "status"
    )
    for session in candidates.iterator():
        if session.ends_at <= now:
            session_end(session=session, reason=EndReason.TIME_UP)
            ended.append(session.pk)
    return ended


def _refresh(target: Session, source: Session) -> None:
    for field in ("status", "started_at", "ended_at", "end_reason", "last_seq"):
        setattr(target, field, getattr(source, field))
