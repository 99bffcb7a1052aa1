"""Feedback pages: the client's form, the counselor's live result, progress, staff lists.

Thin: access rules and writes are in ``services`` / ``selectors``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from kokoro_site.permissions import error_page, staff_required
from roleplay.models import Role, SessionSource, SessionStatus
from roleplay.services.sessions import session_next_url

from . import selectors
from .forms import FeedbackFilterForm, FeedbackForm
from .items import ASPECT_LABELS, ASPECTS, GROUP_LABELS, ITEMS, SCREENINGS
from .models import Feedback
from .services import FeedbackError, feedback_refusal, feedback_submit, monitoring_review_create

MSG_THANKS = _("Thank you! Your feedback has been sent to the counselor.")
TITLE = _("Feedback")
PAGE_SIZE = 50

# HTTP status of each refusal code.
MSG_REVIEWED = _("Evaluation %(id)s is marked as reviewed.")
REFUSAL_STATUS = {"not_client": 403, "not_ended": 409, "not_held": 409, "already_submitted": 409}


def _error_page(request: HttpRequest, message, *, status: int, **context) -> HttpResponse:
    return error_page(request, message, status=status, title=TITLE, **context)


def _refused(request: HttpRequest, session, refusal: FeedbackError, *, posted: bool) -> HttpResponse:
    if refusal.code == "already_submitted":
        # The client's own feedback: a thank-you page (an error when they try to send again).
        status = 409 if posted else 200
        context = {"session": session, "error": refusal.message if posted else None}
        return render(request, "feedback/submitted.html", context, status=status)
    room_url = reverse("roleplay:session", args=[session.pk]) if refusal.code == "not_ended" else None
    return _error_page(
        request, refusal.message, status=REFUSAL_STATUS.get(refusal.code, 400), session=session, room_url=room_url
    )


def _form_context(session, form: FeedbackForm, error=None) -> dict:
    """Items grouped by group and aspect (questionnaire order), each with its bound form field."""
    layout = []
    for group, group_label in GROUP_LABELS.items():
        aspects = []
        for aspect in ASPECTS:
            items = [{"item": i, "field": form[i.field]} for i in ITEMS if i.group == group and i.aspect == aspect]
            if items:
                aspects.append({"label": ASPECT_LABELS[aspect], "items": items})
        layout.append({"label": group_label, "aspects": aspects})
    return {
        "session": session,
        "form": form,
        "layout": layout,
        "screening_fields": [form[s.field] for s in SCREENINGS],
        "error": error,
        "item_count": len(ITEMS),
    }


@login_required
def feedback_form(request: HttpRequest, session_id: int) -> HttpResponse:
    session = selectors.session_get_for_participant(session_id=session_id, user=request.user)
    posted = request.method == "POST"
    refusal = feedback_refusal(session=session, user=request.user)
    if refusal is not None:
        return _refused(request, session, refusal, posted=posted)
    if not posted:
        return render(request, "feedback/form.html", _form_context(session, FeedbackForm()))
    form = FeedbackForm(request.POST)
    if not form.is_valid():
        return render(request, "feedback/form.html", _form_context(session, form, form.first_error()), status=400)
    try:
        feedback_submit(
            session=session, client=request.user, values=form.item_values(), screenings=form.screening_values()
        )
    except FeedbackError as exc:
        if exc.code in REFUSAL_STATUS:
            return _refused(request, session, exc, posted=True)
        return render(request, "feedback/form.html", _form_context(session, form, exc.message), status=400)
    messages.success(request, MSG_THANKS)
    return redirect("feedback:form", session_id=session.pk)


def _result_context(request: HttpRequest, session) -> dict:
    feedback = selectors.feedback_for_session(session_id=session.pk)
    return {
        "session": session,
        "feedback": feedback,
        "breakdown": selectors.feedback_breakdown(feedback) if feedback else None,
        "is_counselor": request.user.pk == session.counselor_id,
        "ended": session.status == SessionStatus.ENDED,
        "transcript_url": selectors.session_transcript_url(session.pk) if request.user.is_staff else None,
    }


@login_required
def feedback_result(request: HttpRequest, session_id: int) -> HttpResponse:
    try:
        session = selectors.session_get_for_result(session_id=session_id, user=request.user)
    except PermissionDenied as exc:
        return _error_page(request, exc.args[0], status=403)
    context = _result_context(request, session)
    if session.source == SessionSource.AI and context["feedback"] is None and context["is_counselor"]:
        # An AI client never rates the session: no waiting here, the practice review (if installed) instead.
        target = session_next_url(session_id=session.pk, role=Role.COUNSELOR)
        if target != request.path:
            return redirect(target)
    context["config"] = {
        "session_id": session.pk,
        "ws_path": f"/ws/sessions/{session.pk}/",
        "fragment_url": reverse("feedback:result_fragment", args=[session.pk]),
        "has_feedback": context["feedback"] is not None,
    }
    return render(request, "feedback/result.html", context)


@login_required
def feedback_result_fragment(request: HttpRequest, session_id: int) -> HttpResponse:
    try:
        session = selectors.session_get_for_result(session_id=session_id, user=request.user)
    except PermissionDenied as exc:
        return HttpResponse(str(exc.args[0]), status=403)
    return render(request, "feedback/_result_body.html", _result_context(request, session))


@login_required
def feedback_progress(request: HttpRequest) -> HttpResponse:
    # The skills charts below are coaching's panel ("feedback.progress"), filled in by that app.
    return render(request, "feedback/progress.html", {"progress": selectors.counselor_progress(user=request.user)})


@staff_required
def feedback_list(request: HttpRequest) -> HttpResponse:
    form = FeedbackFilterForm(request.GET or None)
    queryset = selectors.feedback_list(filters=form.filters())
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "feedback/list.html",
        {"form": form, "page": page, "rows": _staff_rows(page), "query": query.urlencode()},
    )


@staff_required
def feedback_monitoring(request: HttpRequest) -> HttpResponse:
    screening = request.GET.get("screening", "any")
    queryset = selectors.screened_feedback(screening=screening)
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "feedback/monitoring.html",
        {
            "page": page,
            "rows": _staff_rows(page),
            "counts": selectors.screening_counts(),
            "show_review": True,
            "screening": screening if screening in selectors.SCREENING_BY_CODE else "any",
        },
    )


def _staff_rows(page) -> list[dict]:
    return [
        {
            "feedback": f,
            "flags": [s.code for s in SCREENINGS if getattr(f, s.field)],
            "transcript_url": selectors.session_transcript_url(f.session_id),
            "result_url": reverse("feedback:result", args=[f.session_id]),
            "reviews": list(f.reviews.all()),
        }
        for f in page.object_list
    ]


@require_POST
@staff_required
def monitoring_review(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark a flagged feedback reviewed with a follow-up note, then back to the monitoring list."""
    feedback = get_object_or_404(Feedback, pk=pk)
    try:
        monitoring_review_create(feedback=feedback, reviewer=request.user, note=request.POST.get("note", ""))
    except FeedbackError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, MSG_REVIEWED % {"id": feedback.evaluation_id})
    back = request.POST.get("next", "")
    if not back.startswith("/") or back.startswith("//"):
        back = reverse("feedback:monitoring")
    return redirect(back)
