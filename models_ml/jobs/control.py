"""What people do with any job from the site: read its log, cancel it; and the log writer the jobs use.

Kept apart from ``services`` (the job life cycle) so that a job type only needs ``job_log`` calls to get a
log on its card (``templates/jobs/_job_card.html``, served by ``models_ml.jobs.views``).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kokoro_site.errors import ServiceError

from .live import job_notify
from .models import ACTIVE_STATUSES, Job, JobLogEntry, JobStatus
from .services import job_type_of, job_types

LOG_LINES_SHOWN = 50
ERR_NOT_ACTIVE = _("This job has already ended.")
ERR_UNKNOWN_JOB = _("Unknown job type.")
MSG_CANCELLED = "Cancelled by %(user)s."


class JobControlError(ServiceError):
    """A job action refused (the job ended already, unknown type)."""


def job_type_key(model: type[Job]) -> str:
    """The job type's registered key (``finetune``, ``arena_judge``...): the one name of a job type in
    URLs (``jobs:card``), log rows and live pushes (``models_ml.jobs.live.job_ref``)."""
    job_type = job_type_of(model)
    if job_type is None:
        raise LookupError(f"{model._meta.label} is not a registered job type (jobs.services.job_type_register)")
    return job_type.key


def job_log(*, model: type[Job], job_id: int, line: str) -> None:
    """Append one line to the job's log (English source text: it is a technical record)."""
    JobLogEntry.objects.create(job_type=job_type_key(model), job_id=job_id, line=str(line)[:500])


def job_log_lines(*, job: Job, limit: int = LOG_LINES_SHOWN) -> list[JobLogEntry]:
    """The last ``limit`` lines of the job's log, oldest first."""
    rows = JobLogEntry.objects.filter(job_type=job_type_key(type(job)), job_id=job.pk).order_by("-id")[:limit]
    return list(reversed(rows))


def job_model_for(key: str) -> type[Job]:
    """The model of the job type registered as ``key``."""
    job_type = job_types().get(key)
    if job_type is None:
        raise JobControlError("unknown", ERR_UNKNOWN_JOB)
    return job_type.model


@transaction.atomic
def job_cancel(*, model: type[Job], job_id: int, user: Any = None) -> Job:
    """queued or running → cancelled at once; a running job notices at its next progress write (which
    then returns False) and stops without overwriting this state."""
    job = model.objects.select_for_update().get(pk=job_id)
    if job.status not in ACTIVE_STATUSES:
        raise JobControlError("not_active", ERR_NOT_ACTIVE)
    job.status = JobStatus.CANCELLED
    job.finished_at = timezone.now()
    if hasattr(job, "cancel_requested"):
        job.cancel_requested = True
    job.save()
    job_log(model=model, job_id=job.pk, line=MSG_CANCELLED % {"user": getattr(user, "username", "") or "system"})
    job_notify(model=model, job_id=job.pk)  # like every other state write: the pages showing it follow at once
    return job


__all__ = ["JobControlError", "job_cancel", "job_log", "job_log_lines", "job_model_for", "job_type_key"]
