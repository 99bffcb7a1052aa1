"""The one job machinery: register a job type, dispatch, claim, heartbeat / progress, finish, reap.

A job's life::

    job = MyJob.objects.create(...)                       # status queued (in the caller's transaction)
    job_dispatch(task=my_task, args=[job.pk], queue=...)  # sent once that transaction commits
    # in the Celery task:
    job = job_claim(model=MyJob, job_id=job_id, task_id=..., hostname=...)   # None: skip (not queued any more)
    job_progress(model=MyJob, job_id=job.pk, progress=40, message="...")      # also the heartbeat
    job_count(model=MyJob, job_id=job.pk, field="done")                       # CountedJob: +1, progress follows
    job_finish(model=MyJob, job_id=job.pk, results=...)                       # or job_fail(..., code, reason)

A running job whose heartbeat is older than its type's ``stale_after_s()`` is marked failed by
``jobs_reap_stale`` (one periodic task, ``models_ml.jobs.tasks.reap_stale_jobs``, plus the job pages).

Every state or progress write here (claim, progress, count, finish / fail, touch, reap) also pushes the change
to the pages that show the job, after the commit (``models_ml.jobs.live.job_notify``); a job type that writes
its rows itself calls ``job_notify`` too.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .live import job_notify
from .models import ACTIVE_STATUSES, CountedJob, Job, JobStatus

logger = logging.getLogger(__name__)

J = TypeVar("J", bound=Job)

# The one reason of every job the reaper fails (its worker went silent); the worker and its last heartbeat follow.
ERR_WORKER_LOST = _("Worker lost: the job made no progress for %(minutes)s minutes. Start it again.")
ERR_UNEXPECTED = _("The job failed unexpectedly: %(detail)s")
CODE_WORKER_LOST = "worker_lost"
CODE_FAILED = "failed"


@dataclass(frozen=True)
class JobType:
    """A concrete job model and how long it may stay silent while running."""

    key: str
    model: type[Job]
    stale_after_s: Callable[[], float]


_types: dict[str, JobType] = {}
_reapers: dict[str, Callable[[], int]] = {}


def job_type_register(
    *,
    key: str,
    model: type[Job],
    stale_after_s: Callable[[], float],
) -> JobType:
    """Called from an app's ``AppConfig.ready()``; registering the same key again replaces it."""
    job_type = JobType(key=key, model=model, stale_after_s=stale_after_s)
    _types[key] = job_type
    return job_type


def reaper_register(*, key: str, reap: Callable[[], int]) -> None:
    """Something that is not a Job row but is reaped with the jobs (the practice partners' stuck replies)."""
    _reapers[key] = reap


def job_types() -> dict[str, JobType]:
    return dict(_types)


def job_type_of(model: type[Job]) -> JobType | None:
    return next((t for t in _types.values() if t.model is model), None)


# --- dispatch --------------------------------------------------------------------------------------------


def _send(task: Any, args: list, *, queue: str, task_id: str | None, embedded_thread: bool, countdown=None) -> None:
    from django.conf import settings

    if settings.CELERY_TASK_ALWAYS_EAGER and embedded_thread:  # embedded mode (no broker)
        # Embedded mode has no worker: run the job in a background thread so that the request returns.
        def run() -> None:
            try:
                task.apply(args=args, task_id=task_id)
            finally:
                connection.close()

        threading.Thread(target=run, name=f"job-{task.name}-{args[:1]}", daemon=True).start()
    else:
        options: dict[str, Any] = {"queue": queue}
        if task_id:
            options["task_id"] = task_id
        if countdown:
            options["countdown"] = countdown
        task.apply_async(args=args, **options)


def job_dispatch(
    *,
    task: Any,
    args: list,
    queue: str = "default",
    task_id: str | None = None,
    embedded_thread: bool = True,
    countdown: float | None = None,
) -> None:
    """Queue ``task(*args)`` once the current transaction commits (at once outside a transaction).

    Services mode: ``apply_async`` on ``queue``. Embedded mode (eager Celery): in a background thread of this
    process when ``embedded_thread`` (the request returns at once), else inline at commit."""
    transaction.on_commit(
        lambda: _send(
            task, list(args), queue=queue, task_id=task_id, embedded_thread=embedded_thread, countdown=countdown
        )
    )


# --- claim / heartbeat / finish ------------------------------------------------------------------------------


@transaction.atomic
def job_claim(*, model: type[J], job_id: int, task_id: str = "", hostname: str = "") -> J | None:
    """queued → running, once: a job that is no longer queued (cancelled, failed after a lost worker, or
    already run by a redelivered message) is not run again; returns None then."""
    job = model.objects.select_for_update().filter(pk=job_id).first()
    if job is None or job.status != JobStatus.QUEUED or not job.can_start():
        return None
    now = timezone.now()
    job.status = JobStatus.RUNNING
    job.started_at = job.heartbeat_at = now
    job.attempts += 1
    job.worker_hostname = (hostname or "")[:200]
    if task_id:
        job.celery_task_id = task_id[:64]
    job.save()
    job_notify(model=model, job_id=job.pk)
    return job


def job_progress(
    *, model: type[Job], job_id: int, progress: int | None = None, message: str | None = None, **fields: Any
) -> bool:
    """Heartbeat plus optional progress (0-100), message and other fields, on a job that is still running.
    False when it is not running any more (cancelled, reaped): the caller should stop."""
    updates: dict[str, Any] = {"heartbeat_at": timezone.now(), **fields}
    if progress is not None:
        updates["progress"] = max(0, min(100, int(progress)))
    if message is not None:
        updates["message"] = str(message)[:300]
    changed = model.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(**updates) > 0
    if changed and (len(updates) > 1):  # a bare heartbeat changes nothing a page shows
        job_notify(model=model, job_id=job_id)
    return changed


@transaction.atomic
def job_count(*, model: type[CountedJob], job_id: int, field: str = "done", **fields: Any) -> bool:
    """One more item ``done`` (or ``failed``) on a running counted job; its progress follows."""
    if field not in ("done", "failed"):
        raise ValueError(field)
    job = model.objects.select_for_update().filter(pk=job_id, status=JobStatus.RUNNING).first()
    if job is None:
        return False
    setattr(job, field, getattr(job, field) + 1)
    for name, value in fields.items():
        setattr(job, name, value(job) if callable(value) else value)
    job.progress = job.counted_progress()
    job.heartbeat_at = timezone.now()
    job.save(update_fields=[field, "progress", "heartbeat_at", *fields])
    job_notify(model=model, job_id=job_id)
    return True


def job_finish(*, model: type[Job], job_id: int, status: str = JobStatus.SUCCEEDED, **fields: Any) -> bool:
    """An active job → a terminal state (a job already finished — e.g. reaped — is never overwritten)."""
    updates: dict[str, Any] = {"status": status, "finished_at": timezone.now(), **fields}
    if status == JobStatus.SUCCEEDED:
        updates["progress"] = 100
    changed = model.objects.filter(pk=job_id, status__in=ACTIVE_STATUSES).update(**updates) > 0
    if changed:
        job_notify(model=model, job_id=job_id)
    return changed


def job_fail(*, model: type[Job], job_id: int, reason: str, code: str = CODE_FAILED, **fields: Any) -> bool:
    return job_finish(model=model, job_id=job_id, status=JobStatus.FAILED, error=str(reason), error_code=code, **fields)


def job_fail_unexpected(*, model: type[Job], job_id: int, exc: BaseException) -> bool:
    detail = f"{type(exc).__name__}: {exc}"
    return job_fail(model=model, job_id=job_id, reason=str(ERR_UNEXPECTED % {"detail": detail}), code="unexpected")


def job_touch(*, model: type[Job], job_id: int, **fields: Any) -> None:
    """Plain field writes on any job row (no state change), e.g. the request of a cancellation."""
    if model.objects.filter(pk=job_id).update(**fields):
        job_notify(model=model, job_id=job_id)


# --- reap ------------------------------------------------------------------------------------------------


def worker_lost_reason(job: Job, seconds: float) -> str:
    """``ERR_WORKER_LOST`` for a job silent for ``seconds``, plus its worker and last heartbeat when it had one."""
    reason = str(ERR_WORKER_LOST % {"minutes": round(seconds / 60)})
    if not job.worker_hostname:
        return reason
    last = timezone.localtime(job.heartbeat_at or job.started_at or timezone.now())
    return f"{reason} ({job.worker_hostname}, {last:%Y-%m-%d %H:%M:%S})"


@transaction.atomic
def jobs_reap_stale(*, models: list[type[Job]] | None = None, stale_after: timedelta | None = None, now=None) -> int:
    """Running jobs whose heartbeat (or start, before the first heartbeat) is older than their type's limit
    — the worker died — become failed with ``error_code="worker_lost"``; ``Job.on_reaped`` adds a job type's
    own bookkeeping. Returns how many. ``models`` limits it to those types, ``stale_after`` overrides the limit."""
    now = now or timezone.now()
    skip_locked = connection.features.has_select_for_update_skip_locked
    count = 0
    for job_type in list(_types.values()):
        if models is not None and job_type.model not in models:
            continue
        seconds = stale_after.total_seconds() if stale_after is not None else float(job_type.stale_after_s())
        cutoff = now - timedelta(seconds=seconds)
        stale = (
            job_type.model.objects.select_for_update(skip_locked=skip_locked)
            .filter(status=JobStatus.RUNNING)
            .filter(Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff))
        )
        for job in stale:
            reason = worker_lost_reason(job, seconds)
            job.status = JobStatus.FAILED
            job.error = reason
            job.error_code = CODE_WORKER_LOST
            job.finished_at = now
            job.on_reaped(reason)
            job.save()
            job_notify(model=job_type.model, job_id=job.pk)
            count += 1
    return count


def reap_all() -> dict[str, int]:
    """Every registered job type and extra reaper (the one periodic task)."""
    result = {"jobs": jobs_reap_stale()}
    for key, reap in list(_reapers.items()):
        try:
            result[key] = int(reap() or 0)
        except Exception:  # one broken reaper must not stop the others
            logger.exception("reaper %s failed", key)
            result[key] = -1
    return result


__all__ = [
    "JobType",
    "job_claim",
    "job_count",
    "job_dispatch",
    "job_fail",
    "job_finish",
    "job_progress",
    "job_notify",
    "job_type_register",
    "jobs_reap_stale",
    "reap_all",
    "reaper_register",
    "worker_lost_reason",
]
