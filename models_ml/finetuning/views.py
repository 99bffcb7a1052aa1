"""Staff-only pages: fine-tuning jobs (list, create, live detail, cancel, retry), role-card library, models."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from kokoro_site.permissions import staff_required

from . import selectors, services
from .forms import BuildRetrievalForm, FineTuneJobForm, RoleCardForm
from .models import FineTuneJob, ModelVersion, RoleCard

MSG_JOB_QUEUED = _("Job #%(id)s is queued for the GPU worker.")
MSG_JOB_CANCEL = _("Cancellation of job #%(id)s requested.")
MSG_JOB_RETRY = _("Job #%(id)s queued again as job #%(new)s.")
MSG_CARD_SAVED = _("Role card “%(name)s” saved.")
MSG_EXAMPLES = _("%(count)s example role card(s) loaded.")
MSG_MODEL_ACTIVE = _("“%(name)s” is now active.")
MSG_MODEL_INACTIVE = _("“%(name)s” is now inactive.")
MSG_RETRIEVAL = _("Building the retrieval index from the High-scored sessions…")
MSG_INDEX_JOB = _("Index build #%(id)s (%(role)s)")


# --- jobs ------------------------------------------------------------------------------------------


@staff_required
def jobs(request: HttpRequest) -> HttpResponse:
    services.finetune_jobs_reap_stale()
    return render(
        request,
        "partners/jobs.html",
        {"jobs": selectors.job_list()[:200], "counts": selectors.job_counts()},
    )


@staff_required
def job_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = FineTuneJobForm(request.POST)
        if form.is_valid():
            try:
                with transaction.atomic():
                    job = services.finetune_job_create(**form.service_kwargs(), created_by=request.user)
                    services.finetune_job_start(job=job)
            except services.PartnersError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, MSG_JOB_QUEUED % {"id": job.pk})
                return redirect("partners:job_detail", job_id=job.pk)
    else:
        form = FineTuneJobForm(initial={"base_model": _default_base_model()})
    return render(
        request,
        "partners/job_form.html",
        {
            "form": form,
            "defaults": {t: services.default_hyperparameters(t) for t in ("response", "score")},
            "subset_counts": selectors.subset_counts(),
            "base_models": list(settings.KOKORO_FINETUNE_BASE_MODELS),
        },
    )


def _default_base_model() -> str:
    models = list(settings.KOKORO_FINETUNE_BASE_MODELS)
    return models[0] if models else ""


@staff_required
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    services.finetune_jobs_reap_stale()
    job = get_object_or_404(FineTuneJob.objects.select_related("created_by", "retry_of"), pk=job_id)
    return render(
        request,
        "partners/job_detail.html",
        {"job": job, "versions": job.model_versions.all(), "retries": job.retries.all()},
    )


@staff_required
def job_progress(request: HttpRequest, job_id: int) -> HttpResponse:
    """The live part of the detail page, polled by htmx every 2 s while the job is not finished."""
    services.finetune_jobs_reap_stale()
    job = get_object_or_404(FineTuneJob, pk=job_id)
    return render(request, "partners/_job_progress.html", {"job": job})


@staff_required
@require_POST
def job_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(FineTuneJob, pk=job_id)
    try:
        services.finetune_job_cancel(job=job)
    except services.PartnersError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, MSG_JOB_CANCEL % {"id": job.pk})
    return redirect("partners:job_detail", job_id=job.pk)


@staff_required
@require_POST
def job_retry(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(FineTuneJob, pk=job_id)
    try:
        new = services.finetune_job_retry(job=job, created_by=request.user)
    except services.PartnersError as exc:
        messages.error(request, exc.message)
        return redirect("partners:job_detail", job_id=job.pk)
    messages.success(request, MSG_JOB_RETRY % {"id": job.pk, "new": new.pk})
    return redirect("partners:job_detail", job_id=new.pk)


# --- role cards ------------------------------------------------------------------------------------


@staff_required
def role_cards(request: HttpRequest) -> HttpResponse:
    return render(request, "partners/role_cards.html", {"cards": selectors.role_cards()})


@staff_required
def role_card_edit(request: HttpRequest, card_id: int | None = None) -> HttpResponse:
    card = get_object_or_404(RoleCard, pk=card_id) if card_id is not None else None
    if request.method == "POST":
        form = RoleCardForm(request.POST)
        if form.is_valid():
            try:
                if card is None:
                    card = services.role_card_create(data=form.card_data(), created_by=request.user)
                else:
                    card = services.role_card_update(role_card=card, data=form.card_data())
            except services.PartnersError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, MSG_CARD_SAVED % {"name": card.name})
                return redirect("partners:role_cards")
    else:
        form = RoleCardForm(initial=RoleCardForm.initial_from(card) if card else None)
    return render(request, "partners/role_card_form.html", {"form": form, "card": card})


@staff_required
@require_POST
def role_card_toggle(request: HttpRequest, card_id: int) -> HttpResponse:
    card = get_object_or_404(RoleCard, pk=card_id)
    services.role_card_set_active(role_card=card, active=not card.is_active)
    return redirect("partners:role_cards")


@staff_required
@require_POST
def role_cards_load_examples(request: HttpRequest) -> HttpResponse:
    count = services.role_cards_load_examples(created_by=request.user)
    messages.success(request, MSG_EXAMPLES % {"count": count})
    return redirect("partners:role_cards")


# --- model versions --------------------------------------------------------------------------------


@staff_required
def models(request: HttpRequest) -> HttpResponse:
    from models_ml.jobs.views import job_card_context

    here = request.get_full_path()
    index_jobs = selectors.retrieval_index_jobs(limit=4)
    return render(
        request,
        "partners/models.html",
        {
            "versions": selectors.model_versions(),
            "configured": selectors.generation_backends_overview(),
            "retrieval_form": BuildRetrievalForm(),
            "index_cards": [
                job_card_context(
                    j, label=str(MSG_INDEX_JOB % {"id": j.pk, "role": j.get_role_display()}), next_url=here
                )
                for j in index_jobs
            ],
        },
    )


@staff_required
@require_POST
def model_toggle(request: HttpRequest, version_id: int) -> HttpResponse:
    version = get_object_or_404(ModelVersion, pk=version_id)
    services.model_version_set_active(version=version, active=not version.is_active)
    message = MSG_MODEL_ACTIVE if version.is_active else MSG_MODEL_INACTIVE
    messages.success(request, message % {"name": version.name})
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("partners:models")


@staff_required
@require_POST
def model_build_retrieval(request: HttpRequest) -> HttpResponse:
    form = BuildRetrievalForm(request.POST)
    if form.is_valid():
        services.retrieval_index_job_create(role=form.cleaned_data["role"], created_by=request.user)
        messages.success(request, MSG_RETRIEVAL)
    return redirect("partners:models")
