"""Reads of notifications; their text is built here, in the active language, from stored codes."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from roleplay.models import Notification, NotificationKind

LIST_LIMIT = 50


def _when(params: dict) -> str:
    raw = params.get("starts_at")
    if not raw:
        return ""
    value = timezone.localtime(datetime.fromisoformat(raw))
    return formats.date_format(value, "Y-m-d H:i")


def notification_title(n: Notification) -> str:
    return str(NotificationKind(n.kind).label)


def notification_text(n: Notification, *, with_link_hint: bool = False) -> str:
    params = {"partner": n.params.get("partner", "—"), "when": _when(n.params)}
    texts = {
        NotificationKind.MATCHED: _("You have a new role-play with %(partner)s on %(when)s."),
        NotificationKind.RESCHEDULED: _("Your role-play with %(partner)s was moved to %(when)s."),
        NotificationKind.CANCELLED: _("Your role-play with %(partner)s on %(when)s was cancelled."),
        NotificationKind.STARTING_SOON: _(
            "Your role-play with %(partner)s starts in 5 minutes (%(when)s). The waiting room is open."
        ),
    }
    text = texts[NotificationKind(n.kind)] % params
    if with_link_hint:
        base = settings.KOKORO_SITE_URL.rstrip("/")
        text += "\n\n" + _("Open KokoroChat: %(url)s") % {"url": base + notification_url(n)}
        text += "\n" + _("You can turn these e-mails off on your profile page.")
    return text


def notification_url(n: Notification) -> str:
    if n.session_id and n.kind != NotificationKind.CANCELLED:
        return reverse("roleplay:session", args=[n.session_id])
    return reverse("roleplay:dashboard")


def notifications_for(*, user, limit: int = LIST_LIMIT) -> list[dict]:
    rows = Notification.objects.filter(user=user).order_by("-created_at", "-pk")[:limit]
    return [
        {
            "id": n.pk,
            "title": notification_title(n),
            "text": notification_text(n),
            "url": notification_url(n),
            "created_at": n.created_at,
            "unread": n.read_at is None,
        }
        for n in rows
    ]


def unread_count(*, user) -> int:
    if not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(user=user, read_at__isnull=True).count()
