"""Chat reads."""

from __future__ import annotations

from django.http import Http404
from django.utils.translation import gettext_lazy as _

from roleplay.models import Message, Session

OBSERVER = "observer"
SYNC_BATCH = 500

ERR_SESSION_NOT_FOUND = _("Session not found.")


def session_role_for(*, session: Session, user) -> str | None:
    """ "counselor"/"client" for participants, "observer" for staff, else None."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    role = session.role_of(user)
    if role is not None:
        return str(role)
    if user.is_staff:
        return OBSERVER
    return None


def session_get_for_user(*, session_id: int, user) -> tuple[Session, str]:
    """The session and the viewer's role; 404 for anyone else (existence is not leaked)."""
    session = Session.objects.select_related("counselor__profile", "client__profile").filter(pk=session_id).first()
    role = session_role_for(session=session, user=user) if session else None
    if session is None or role is None:
        raise Http404(ERR_SESSION_NOT_FOUND)
    return session, role


def messages_after(*, session_id: int, after: int = 0, limit: int = SYNC_BATCH) -> list[Message]:
    return list(
        Message.objects.filter(session_id=session_id, seq__gt=after).order_by("seq").select_related(None)[:limit]
    )


def message_frame(message: Message) -> dict:
    """The JSON shape of a message, shared by the socket frames and the page's history."""
    return {
        "type": "message",
        "seq": message.seq,
        "role": message.role,
        "text": message.text,
        "created_at": message.created_at.isoformat(),
        "client_msg_id": message.client_msg_id,
    }


def participant_name(user) -> str:
    if user is None:
        return "-"
    profile = getattr(user, "profile", None)
    return getattr(profile, "display_name", "") or user.get_username()
