"""Notifications: a session was matched, rescheduled or cancelled, or starts in 5 minutes.

Each one is a row (the site's list with its unread count, pushed live to the user's open pages)
and, when an e-mail backend is configured and the user has not turned it off, an e-mail sent by
a Celery task after the commit. The text is built when shown, in the reader's language.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from roleplay.models import Notification, NotificationKind, Session, SessionStatus
from roleplay.notify import user_notify

logger = logging.getLogger(__name__)

REMINDER_BEFORE = timedelta(minutes=5)
DUMMY_EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"


def email_configured() -> bool:
    return bool(settings.EMAIL_BACKEND) and settings.EMAIL_BACKEND != DUMMY_EMAIL_BACKEND


def _display_name(user) -> str:
    if user is None:
        return "—"
    profile = getattr(user, "profile", None)
    return (getattr(profile, "display_name", "") or "") or user.get_username()


def _unread_count(user_id: int) -> int:
    return Notification.objects.filter(user_id=user_id, read_at__isnull=True).count()


def _after_commit(notification_id: int, user_id: int) -> None:
    try:
        user_notify(user_id=user_id, event={"type": "notification", "unread": _unread_count(user_id)})
    except Exception:  # the layer is a hint: the badge is also right on the next page load
        logger.exception("could not push notification %s", notification_id)
    from roleplay.tasks import send_notification_email  # tasks import services, not the reverse

    send_notification_email.delay(notification_id)


@transaction.atomic
def notification_create(
    *, user, kind: str, session: Session | None = None, params: dict | None = None, dedupe_key: str = ""
) -> Notification | None:
    """Store one notification; with ``dedupe_key``, a second call for the same user, kind, session and
    key stores nothing and returns None (idempotent reminders)."""
    if kind not in NotificationKind.values:
        raise ValueError(f"unknown notification kind {kind!r}")
    if (
        dedupe_key
        and Notification.objects.filter(user=user, kind=kind, session=session, dedupe_key=dedupe_key).exists()
    ):
        return None
    try:
        with transaction.atomic():  # a concurrent reminder may win the unique key
            notification = Notification.objects.create(
                user=user, kind=kind, session=session, params=params or {}, dedupe_key=dedupe_key
            )
    except IntegrityError:
        if dedupe_key:
            return None
        raise
    transaction.on_commit(lambda: _after_commit(notification.pk, user.pk))
    return notification


def notify_session_participants(
    *, session: Session, kind: str, exclude=None, dedupe_key: str = ""
) -> list[Notification]:
    """One notification per participant (but ``exclude``, who caused it), naming the partner and the start."""
    created = []
    for user, partner in ((session.counselor, session.client), (session.client, session.counselor)):
        if user is None or (exclude is not None and user.pk == exclude.pk):
            continue
        params = {"starts_at": session.starts_at.isoformat(), "partner": _display_name(partner)}
        n = notification_create(user=user, kind=kind, session=session, params=params, dedupe_key=dedupe_key)
        if n is not None:
            created.append(n)
    return created


def sessions_remind_starting(*, now: datetime | None = None) -> int:
    """ "Starts in 5 minutes" for every scheduled session starting within ``REMINDER_BEFORE``.

    Idempotent: the key is the start time, so a run every minute reminds once per start (and
    once more after a reschedule). Returns how many notifications were created.
    """
    now = now or timezone.now()
    qs = Session.objects.filter(
        status=SessionStatus.SCHEDULED, starts_at__gt=now, starts_at__lte=now + REMINDER_BEFORE
    ).select_related("counselor__profile", "client__profile")
    count = 0
    for session in qs:
        key = session.starts_at.isoformat()
        count += len(notify_session_participants(session=session, kind=NotificationKind.STARTING_SOON, dedupe_key=key))
    return count


@transaction.atomic
def notifications_mark_read(*, user, ids: list[int] | None = None) -> int:
    """Mark the user's unread notifications (all, or ``ids``) read; pushes the new count."""
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    updated = qs.update(read_at=timezone.now())
    user_id = user.pk
    transaction.on_commit(lambda: _push_count(user_id))
    return updated


def _push_count(user_id: int) -> None:
    try:
        user_notify(user_id=user_id, event={"type": "notification", "unread": _unread_count(user_id)})
    except Exception:
        logger.exception("could not push the unread count of user %s", user_id)


def notification_email_send(*, notification_id: int) -> bool:
    """Send the e-mail of one notification once (``emailed_at``); False when nothing was sent."""
    from django.core.mail import send_mail
    from django.utils import translation

    from roleplay.selectors.notifications import notification_text, notification_title

    with transaction.atomic():
        n = (
            Notification.objects.select_for_update(of=("self",))
            .select_related("user__profile", "session")
            .filter(pk=notification_id)
            .first()
        )
        if n is None or n.emailed_at is not None or not email_configured():
            return False
        profile = getattr(n.user, "profile", None)
        if not n.user.email or (profile is not None and not profile.email_notifications):
            return False
        language = getattr(profile, "email_language", "") or settings.LANGUAGE_CODE
        with translation.override(language):
            subject = f"KokoroChat: {notification_title(n)}"
            body = notification_text(n, with_link_hint=True)
        send_mail(subject, body, None, [n.user.email], fail_silently=False)
        n.emailed_at = timezone.now()
        n.save(update_fields=["emailed_at"])
    return True
