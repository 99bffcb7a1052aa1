"""The practice panels on roleplay's and feedback's pages (kokoro_site.panels): the dashboard card, the AI
session's script config, the trainee's "End practice" button and the optional-feedback note on the feedback
form. Registered in ``PracticeConfig.ready()``."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from kokoro_site.panels import panel_register

from . import selectors
from .services import MSG_ASK_ADMIN, MSG_NO_PARTNER_REASON

# Strings shown by static/js/practice_chat.js (translated here, passed through json_script).
JS_STRINGS = {
    "typing": _("AI is typing…"),
    "present": _("AI partner"),
    "thinking": _("The AI partner is thinking…"),
    "retry": _("Try again"),
    "retrying": _("Asking the AI partner again…"),
    "error_title": _("The AI partner could not answer."),
    "no_answer": _("The AI partner has not answered for a while."),
    "retry_failed": _("Could not ask again: %(message)s"),
}

TYPING_TIMEOUT_S = 120


def practice_card(context) -> dict:
    request = context.get("request")
    return {
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "versions": list(selectors.counselor_versions()),
        "role_cards": list(selectors.active_role_cards()),
        "available": selectors.partners_available(),
        "unavailable_reason": MSG_NO_PARTNER_REASON,
        "ask_admin": MSG_ASK_ADMIN,
        "is_staff": bool(request and request.user.is_staff),
    }


def practice_chat(context, *, session, role) -> dict | None:
    if session.source != "ai":
        return None
    practice = selectors.practice_for_session(session_id=session.pk)
    if practice is None:
        return {"config": None}
    config = {
        "ai_role": practice.ai_role,
        "state": practice.state,
        "last_error": practice.last_error,
        "retry_url": reverse("practice:retry", args=[session.pk]),
        "typing_timeout_s": TYPING_TIMEOUT_S,
        "can_retry": role == practice.human_role,
        "i18n": {key: str(text) for key, text in JS_STRINGS.items()},
    }
    return {"config": config, "practice": practice}


def practice_end_form(context, *, session, role) -> dict | None:
    """The AI-counselor session's "End practice" button for the trainee (who plays the client)."""
    if session.source != "ai":
        return None
    practice = selectors.practice_for_session(session_id=session.pk)
    show = practice is not None and role == practice.human_role == "client" and session.status == "live"
    return {"show": show, "session": session, "csrf_token": context.get("csrf_token")}


def practice_feedback_optional(context, *, session) -> dict | None:
    """On the feedback form after an AI-counselor session: rating is optional, with a way to skip it."""
    request = context.get("request")
    if session.source != "ai" or request is None or session.client_id != request.user.pk:
        return None
    practice = selectors.practice_for_session(session_id=session.pk)
    if practice is None or practice.ai_role != "counselor":
        return None
    return {"session": session}


def register_panels() -> None:
    panel_register(
        slot="roleplay.dashboard", name="practice.card", template="practice/_card.html", context=practice_card
    )
    panel_register(
        slot="roleplay.session_scripts", name="practice.chat", template="practice/_chat.html", context=practice_chat
    )
    panel_register(
        slot="roleplay.session_client_header",
        name="practice.end_form",
        template="practice/_end_form.html",
        context=practice_end_form,
    )
    panel_register(
        slot="feedback.form_intro",
        name="practice.feedback_optional",
        template="practice/_feedback_optional.html",
        context=practice_feedback_optional,
    )
