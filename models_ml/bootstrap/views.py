"""The staff set-up page: the first-run set-up (a progress bar per step, its log), dataset imports from the
site, and what each missing piece means. Every POST only queues a job and answers at once."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from kokoro_site.permissions import staff_required
from models_ml.jobs.services import jobs_reap_stale
from models_ml.jobs.views import job_card_context

from . import selectors, services
from .forms import DatasetImportForm
from .models import SetupRun

MSG_SETUP_STARTED = _("The set-up has started; it runs in the background.")
MSG_SETUP_NOTHING = _("The set-up of this folder has already run; nothing to do.")
MSG_SETUP_CANCELLED = _("The set-up was cancelled.")
MSG_IMPORT_QUEUED = _("The import of “%(name)s” is queued; its progress is shown below.")

STEP_LABELS = {
    "import_job": _("Import the published dialogues"),
    "scorer_job": _("Train and activate the auto-scorer"),
    "counselor_index_job": _("Build the AI counselor's retrieval index"),
    "client_index_job": _("Build the AI client's retrieval index"),
}


def _context(request: HttpRequest) -> dict:
    overview = selectors.setup_overview()
    run = overview["run"]
    here = request.get_full_path()
    steps = []
    if run is not None:
        for field, job in zip(SetupRun.STEP_FIELDS, run.steps(), strict=True):
            if job is not None:
                steps.append(job_card_context(job, label=str(STEP_LABELS[field]), next_url=here))
    return {
        **overview,
        "run_card": job_card_context(run, label=str(_("Set-up")), next_url=here) if run else None,
        "steps": steps,
        "imports": [
            job_card_context(j, label=str(_("Import of %(name)s") % {"name": j.source_name}), next_url=here)
            for j in selectors.recent_imports()
        ],
    }


@staff_required
def setup(request: HttpRequest) -> HttpResponse:
    jobs_reap_stale()
    return render(request, "bootstrap/setup.html", {**_context(request), "form": DatasetImportForm()})


@staff_required
def setup_status(request: HttpRequest) -> HttpResponse:
    """The live part of the page (polled by htmx while something is being prepared)."""
    return render(request, "bootstrap/_status.html", _context(request))


@staff_required
@require_POST
def setup_start(request: HttpRequest) -> HttpResponse:
    try:
        run = services.setup_start(created_by=request.user, retry=True)
    except services.ImportJobError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, MSG_SETUP_STARTED if run else MSG_SETUP_NOTHING)
    return redirect("bootstrap:setup")


@staff_required
@require_POST
def setup_cancel(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(SetupRun, pk=run_id)
    if run.is_active:
        services.setup_cancel(run=run, user=request.user)
        messages.success(request, MSG_SETUP_CANCELLED)
    return redirect("bootstrap:setup")


@staff_required
@require_POST
def dataset_import(request: HttpRequest) -> HttpResponse:
    form = DatasetImportForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        try:
            if data["upload"]:
                path = services.dataset_upload_store(upload=data["upload"])
                job = services.dataset_import_job_create(
                    source=path,
                    source_name=data["upload"].name,
                    uploaded=True,
                    update=data["update"],
                    created_by=request.user,
                )
            else:
                job = services.dataset_import_job_create(
                    source=data["path"].strip(), update=data["update"], created_by=request.user
                )
        except services.ImportJobError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, MSG_IMPORT_QUEUED % {"name": job.source_name})
            return redirect("bootstrap:setup")
    return render(request, "bootstrap/setup.html", {**_context(request), "form": form}, status=400)
