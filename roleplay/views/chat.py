"""Chat pages: the session room (counselor / client / observer views) and the end button."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from roleplay.models import EndReason, Role, SessionStatus, TranscriptReadChannel
from roleplay.selectors.chat import (
    OBSERVER,
    message_frame,
    messages_after,
    participant_name,
    session_get_for_user,
)
from roleplay.selectors.translations import session_translation
from roleplay.services.audit import transcript_read_log
from roleplay.services.sessions import (
    START_NOW_WINDOW,
    SessionError,
    session_end,
    session_end_if_overdue,
    session_next_url,
    session_start_early,
)

TEMPLATES = {
    Role.COUNSELOR: "roleplay/session_counselor.html",
    Role.CLIENT: "roleplay/session_client.html",
    OBSERVER: "roleplay/session_observer.html",
}

# Strings shown by static/js/chat.js, passed through json_script (translated here).
JS_STRINGS = {
    "connecting": _("Connecting…"),
    "connected": _("Connected"),
    "reconnecting": _("Connection lost, reconnecting…"),
    "online": _("Online"),
    "offline": _("Offline"),
    "typing": _("typing…"),
    "sending": _("sending…"),
    "failed": _("not sent yet – will retry"),
    "ended": _("The session has ended."),
    "starts_in": _("Starts in"),
    "remaining": _("Time left"),
    "confirm_end": _("End the session now? This cannot be undone."),
    "too_long": _("The message is too long."),
    "moving_on": _("Moving on…"),
    "here": _("here"),
    "not_here": _("not here yet"),
    "waiting_reason": _("Sending opens when the session starts. Your draft is kept."),
    "not_connected": _("Not connected: your draft is kept and can be sent once the connection is back."),
}


@login_required
def session_room(request: HttpRequest, pk: int) -> HttpResponse:
    session, role = session_get_for_user(session_id=pk, user=request.user)
    if role == OBSERVER:  # staff watching someone else's session: audit-logged
        transcript_read_log(user=request.user, session_id=session.pk, channel=TranscriptReadChannel.ROOM)
    session_end_if_overdue(session=session)
    history = messages_after(session_id=session.pk, after=0, limit=100_000)
    partner = {Role.COUNSELOR: session.client, Role.CLIENT: session.counselor}.get(role)
    ended = session.status in (SessionStatus.ENDED, SessionStatus.CANCELLED)
    config = {
        "session_id": session.pk,
        "ws_path": f"/ws/sessions/{session.pk}/",
        "role": role,
        "status": session.status,
        "starts_at": session.starts_at.isoformat(),
        "ends_at": session.ends_at.isoformat(),
        "server_time": timezone.now().isoformat(),
        # Times are shown in the site's zone, as the server-rendered history is.
        "time_zone": timezone.get_current_timezone_name(),
        "last_seq": history[-1].seq if history else 0,
        "next_url": session_next_url(session_id=session.pk, role=role) if ended else None,
        "max_chars": settings.KOKORO_MAX_MESSAGE_CHARS,
        "start_now_window_s": int(START_NOW_WINDOW.total_seconds()),
        "i18n": {key: str(text) for key, text in JS_STRINGS.items()},
    }
    context = {
        "session": session,
        "role": role,
        "history": history,
        "history_frames": [message_frame(m) for m in history],
        "translation": session_translation(session_id=session.pk),
        "config": config,
        "partner_name": participant_name(partner) if partner else None,
        "counselor_name": participant_name(session.counselor),
        "client_name": participant_name(session.client),
        "ended": ended,
        "next_url": config["next_url"],
        "waiting": session.status == SessionStatus.SCHEDULED and timezone.now() < session.starts_at,
    }
    return render(request, TEMPLATES[role], context)


@require_POST
@login_required
def session_end_view(request: HttpRequest, pk: int) -> HttpResponse:
    """No-JS fallback of the counselor's "End session" button."""
    session, role = session_get_for_user(session_id=pk, user=request.user)
    if role != Role.COUNSELOR:
        raise PermissionDenied
    try:
        session_end(session=session, reason=EndReason.COUNSELOR, by=request.user)
    except SessionError as exc:
        messages.error(request, exc.message)
        return redirect("roleplay:session", pk=session.pk)
    return redirect(session_next_url(session_id=session.pk, role=role))


@require_POST
@login_required
def session_start_now_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Waiting room: the counselor starts the session before its time (the client is there)."""
    session, role = session_get_for_user(session_id=pk, user=request.user)
    if role != Role.COUNSELOR:
        raise PermissionDenied
    try:
        session_start_early(session=session, by=request.user)
    except SessionError as exc:
        messages.error(request, exc.message)
    return redirect("roleplay:session", pk=session.pk)
