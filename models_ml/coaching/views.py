"""Coaching pages: the review timeline of an ended session and the counselor's live panel (thin views)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from roleplay.selectors.translations import session_translation

from . import selectors, services
from .presenters import live_panel_context


def _timeline_context(session, run) -> dict:
    translation = session_translation(session_id=session.pk)
    return {"session": session, "run": run, "translation": translation, **selectors.timeline(session=session, run=run)}


@login_required
def timeline(request: HttpRequest, session_id: int) -> HttpResponse:
    session = selectors.timeline_session_get(session_id=session_id, user=request.user)
    run = services.suggestion_run_ensure(session=session)
    return render(request, "coaching/timeline.html", _timeline_context(session, run))


@login_required
def timeline_body(request: HttpRequest, session_id: int) -> HttpResponse:
    """The htmx-polled part: progress while suggestions are computed, then the transcript with them."""
    session = selectors.timeline_session_get(session_id=session_id, user=request.user)
    run = selectors.suggestion_run_for(session_id=session.pk)
    return render(request, "coaching/_timeline_body.html", _timeline_context(session, run))


@login_required
@require_POST
def suggestions_restart(request: HttpRequest, session_id: int) -> HttpResponse:
    session = selectors.timeline_session_get(session_id=session_id, user=request.user)
    run = services.suggestion_run_restart(session=session)
    if request.htmx:
        return render(request, "coaching/_timeline_body.html", _timeline_context(session, run))
    return redirect("coaching:timeline", session_id=session.pk)


@login_required
def live_panel(request: HttpRequest, session_id: int) -> HttpResponse:
    session = selectors.live_session_get(session_id=session_id, user=request.user)
    return render(request, "coaching/_live_panel_body.html", live_panel_context(session))


@login_required
@require_POST
def live_toggle(request: HttpRequest, session_id: int) -> HttpResponse:
    session = selectors.live_session_get(session_id=session_id, user=request.user)
    services.coaching_settings_set(session=session, user=request.user, enabled=request.POST.get("enabled") == "1")
    return render(request, "coaching/_live_panel_body.html", live_panel_context(session))
