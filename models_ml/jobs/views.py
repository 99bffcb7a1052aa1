"""Staff-only pieces of any registered job: its card (status, progress bar, message, log; polled by htmx
while it is active) and its cancel button."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from kokoro_site.permissions import staff_required

from .control import JobControlError, job_cancel, job_log_lines, job_model_for, job_type_key
from .services import jobs_reap_stale

MSG_CANCELLED = _("The job was cancelled.")


def _job(key: str, job_id: int):
    try:
        model = job_model_for(key)
    except JobControlError:
        raise Http404 from None
    job = model.objects.filter(pk=job_id).first()
    if job is None:
        raise Http404
    return model, job


def job_card_context(job, *, label: str = "", next_url: str = "") -> dict:
    """What ``jobs/_job_card.html`` needs; ``next_url``: where the cancel button returns to."""
    return {
        "job": job,
        "job_key": job_type_key(type(job)),
        "log": job_log_lines(job=job),
        "label": label,
        "next_url": next_url,
    }


@staff_required
def job_card(request: HttpRequest, key: str, job_id: int) -> HttpResponse:
    model, job = _job(key, job_id)
    if job.is_active:
        jobs_reap_stale(models=[model])
        job.refresh_from_db()
    current = request.htmx.current_url_abs_path if request.htmx else ""
    context = job_card_context(job, label=request.GET.get("label", "")[:80], next_url=current or "")
    return render(request, "jobs/_job_card.html", context)


@staff_required
@require_POST
def job_cancel_view(request: HttpRequest, key: str, job_id: int) -> HttpResponse:
    model, job = _job(key, job_id)
    try:
        job_cancel(model=model, job_id=job.pk, user=request.user)
    except JobControlError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, MSG_CANCELLED)
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("/")
