"""Thin views: start an AI practice session (dashboard card) and retry a failed AI reply."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from kokoro_site.panels import panels_for
from roleplay.models import SessionStatus
from roleplay.services.sessions import session_end_if_overdue, session_next_url

from . import selectors
from .models import AIRole
from .selectors import practice_language
from .services import ERR_AI_ROLE, PracticeError, practice_reply_retry, practice_session_end, practice_session_start


class StartForm(forms.Form):
    ai_role = forms.ChoiceField(choices=AIRole.choices, error_messages={"invalid_choice": ERR_AI_ROLE})
    model_version = forms.IntegerField(required=False, min_value=1)
    role_card = forms.IntegerField(required=False, min_value=1)


MSG_LEFT_EMPTY = _("You left the practice session before saying anything, so there is nothing to rate or review.")
ERR_FORM = _("The practice request was invalid: %(detail)s")


@require_POST
@login_required
def start(request: HttpRequest) -> HttpResponse:
    form = StartForm(request.POST)
    if not form.is_valid():
        detail = "; ".join(str(e) for errors in form.errors.values() for e in errors)
        messages.error(request, ERR_FORM % {"detail": detail})
        return redirect("roleplay:dashboard")
    data = form.cleaned_data
    try:
        session = practice_session_start(
            user=request.user,
            ai_role=data["ai_role"],
            model_version_id=data["model_version"] if data["ai_role"] == AIRole.COUNSELOR else None,
            role_card_id=data["role_card"] if data["ai_role"] == AIRole.CLIENT else None,
            language=practice_language(
                ai_role=data["ai_role"], ui_language=get_language(), chosen_model=bool(data["model_version"])
            ),
        )
    except PracticeError as exc:
        messages.error(request, exc.message)
        return redirect("roleplay:dashboard")
    return redirect("roleplay:session", pk=session.pk)


@require_POST
@login_required
def retry(request: HttpRequest, session_id: int) -> HttpResponse:
    try:
        practice_reply_retry(session_id=session_id, user=request.user)
    except PracticeError as exc:
        status = 404 if exc.code == "not_found" else 409
        return JsonResponse({"ok": False, "code": exc.code, "message": str(exc.message)}, status=status)
    return JsonResponse({"ok": True})


@require_POST
@login_required
def end(request: HttpRequest, session_id: int) -> HttpResponse:
    try:
        session = practice_session_end(session_id=session_id, user=request.user)
    except PracticeError as exc:
        raise Http404(exc.message) from None
    role = session.role_of(request.user)
    if not selectors.has_spoken(session_id=session.pk, role=role):  # nothing to rate or review: no dead end
        messages.info(request, MSG_LEFT_EMPTY)
        return redirect("roleplay:dashboard")
    return redirect(session_next_url(session_id=session.pk, role=role))


@login_required
def review(request: HttpRequest, session_id: int) -> HttpResponse:
    """Where the trainee lands after practising with an AI client: no feedback will come, so the page shows the
    transcript with the coaching timeline and the predicted ratings (panels of the "practice.review" slot)."""
    practice = selectors.review_session_get(session_id=session_id, user=request.user)
    session = practice.session
    session_end_if_overdue(session=session)
    if session.status != SessionStatus.ENDED:  # still going: back to the chat (its End button leaves it)
        return redirect("roleplay:session", pk=session.pk)
    context = {
        "session": session,
        "practice": practice,
        # Without the coaching app the page still shows what was said.
        "transcript": None
        if panels_for(slot="practice.review")
        else selectors.review_transcript(session_id=session.pk),
        "config": {"session_id": session.pk, "ws_path": f"/ws/sessions/{session.pk}/"},
    }
    return render(request, "practice/review.html", context)
