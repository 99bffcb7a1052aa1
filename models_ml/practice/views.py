"""Thin views: start an AI practice session (dashboard card) and retry a failed AI reply."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from roleplay.services.sessions import session_next_url

from .models import AIRole
from .selectors import practice_language
from .services import ERR_AI_ROLE, PracticeError, practice_reply_retry, practice_session_end, practice_session_start


class StartForm(forms.Form):
    ai_role = forms.ChoiceField(choices=AIRole.choices, error_messages={"invalid_choice": ERR_AI_ROLE})
    model_version = forms.IntegerField(required=False, min_value=1)
    role_card = forms.IntegerField(required=False, min_value=1)


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
    return redirect(session_next_url(session_id=session.pk, role=session.role_of(request.user)))
