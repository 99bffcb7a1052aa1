"""Fine-tuning jobs on the models_ml.jobs framework: create, start, cancel, retry, claim, execute, fail, reap."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from feedback.dataset.exporter import export_audit_create
from models_ml.jobs.services import (
    job_claim,
    job_dispatch,
    job_finish,
    job_notify,
    jobs_reap_stale,
)
from models_ml.llm.config import TASKS

from .. import selectors
from ..models import (
    LOG_TAIL_LINES,
    Backend,
    DataSubset,
    FineTuneJob,
    JobStatus,
    ModelVersion,
)
from .common import (
    ERR_CANCEL_STATE,
    ERR_OUT_OF_MEMORY,
    ERR_RETRY_STATE,
    ERR_START_STATE,
    ERR_SUBSET,
    ERR_TASK,
    ERR_TIME_LIMIT,
    ERR_TOO_FEW_DIALOGUES,
    ERR_TRAINING,
    ERR_UNEXPECTED,
    MIN_DIALOGUES,
    PartnersError,
    _line,
    artifacts_dir,
)
from .hyperparams import (
    _clean_base_model,
    default_hyperparameters,
    validate_hyperparameters,
)
from .tracker import (
    JobTracker,
)

logger = logging.getLogger(__name__)


# --- fine-tuning jobs: create / start / cancel / retry ---------------------------------------------


@transaction.atomic
def finetune_job_create(
    *,
    task: str,
    base_model: str,
    data_subset: str | None = None,
    quality_filter: bool = False,
    include_synthetic: bool = False,
    hyperparameters: dict | None = None,
    max_steps: int | None = None,
    created_by: Any = None,
    retry_of: FineTuneJob | None = None,
) -> FineTuneJob:
    """Validate everything, then store a queued job (not yet sent to a worker: see finetune_job_start)."""
    if task not in TASKS:
        raise PartnersError(message=ERR_TASK)
    base_model = _clean_base_model(base_model)
    if data_subset is None:
        data_subset = DataSubset.FULL if task == "response" else DataSubset.ALL
    if data_subset not in DataSubset.values:
        raise PartnersError(message=ERR_SUBSET)
    hp = hyperparameters if hyperparameters is not None else default_hyperparameters(task)
    config = validate_hyperparameters(task=task, base_model=base_model, hyperparameters=hp, max_steps=max_steps)
    count = selectors.training_dialogue_count(
        data_subset=data_subset, quality_filter=quality_filter, include_synthetic=include_synthetic
    )
    if count < MIN_DIALOGUES:
        raise PartnersError(message=ERR_TOO_FEW_DIALOGUES % {"count": count, "minimum": MIN_DIALOGUES})
    user = created_by if created_by is not None and getattr(created_by, "is_authenticated", False) else None
    return FineTuneJob.objects.create(
        task=task,
        data_subset=data_subset,
        quality_filter=quality_filter,
        include_synthetic=include_synthetic,
        base_model=base_model,
        hyperparameters=config,
        max_steps=max_steps,
        created_by=user,
        retry_of=retry_of,
        log_tail=[_line(f"Queued: {count} dialogues ({data_subset}{', quality filter' if quality_filter else ''})")],
    )


@transaction.atomic
def finetune_job_start(*, job: FineTuneJob) -> FineTuneJob:
    """Send a queued job to the ``gpu`` queue once the surrounding transaction commits."""
    job = FineTuneJob.objects.select_for_update().get(pk=job.pk)
    if job.status != JobStatus.QUEUED:
        raise PartnersError(message=ERR_START_STATE)
    job.celery_task_id = str(uuid.uuid4())
    job.save(update_fields=["celery_task_id", "updated_at"])
    _dispatch(job.pk, job.celery_task_id)
    return job


def _dispatch(job_id: int, task_id: str) -> None:
    """On the ``gpu`` queue after commit; embedded mode: a background thread of the web process."""
    from ..tasks import GPU_QUEUE, gpu_finetune

    job_dispatch(
        task=gpu_finetune,
        args=[job_id],
        queue=GPU_QUEUE,
        task_id=task_id,
        embedded_thread=settings.KOKORO_FINETUNE_EMBEDDED_THREAD,
    )


@transaction.atomic
def finetune_job_cancel(*, job: FineTuneJob) -> FineTuneJob:
    """A queued job is cancelled at once; a running one gets a flag that the training loop polls."""
    job = FineTuneJob.objects.select_for_update().get(pk=job.pk)
    now = timezone.now()
    if job.status == JobStatus.QUEUED:
        job.status = JobStatus.CANCELLED
        job.cancel_requested = True
        job.finished_at = now
        job.log_tail = [*job.log_tail, _line("Cancelled before it started.")][-LOG_TAIL_LINES:]
    elif job.status == JobStatus.RUNNING:
        job.cancel_requested = True
        job.log_tail = [*job.log_tail, _line("Cancellation requested: stopping after the current step.")][
            -LOG_TAIL_LINES:
        ]
    else:
        raise PartnersError(message=ERR_CANCEL_STATE)
    job.save(update_fields=["status", "cancel_requested", "finished_at", "log_tail", "updated_at"])
    job_notify(model=FineTuneJob, job_id=job.pk)
    return job


@transaction.atomic
def finetune_job_retry(*, job: FineTuneJob, created_by: Any = None, max_steps: int | None = None) -> FineTuneJob:
    """A new queued job with the same settings (the failed one stays as it was, for the record);
    ``max_steps`` optionally changes the length of the new run."""
    if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
        raise PartnersError(message=ERR_RETRY_STATE)
    hp = dict(job.hyperparameters)
    for key in ("base_model", "task"):
        hp.pop(key, None)
    hp["training"] = {k: v for k, v in hp.get("training", {}).items() if k not in ("task", "max_steps")}
    new = finetune_job_create(
        task=job.task,
        base_model=job.base_model,
        data_subset=job.data_subset,
        quality_filter=job.quality_filter,
        include_synthetic=job.include_synthetic,
        hyperparameters=hp,
        max_steps=max_steps if max_steps is not None else job.max_steps,
        created_by=created_by,
        retry_of=job,
    )
    return finetune_job_start(job=new)


# --- fine-tuning jobs: running (called by the Celery task) -----------------------------------------


@transaction.atomic
def finetune_job_claim(*, job_id: int, task_id: str = "", hostname: str = "") -> bool:
    """queued → running, once (``models_ml.jobs.services.job_claim``). A job that is no longer queued
    (cancelled, failed after a lost worker, or already run by a redelivered message) is not run again."""
    job = job_claim(model=FineTuneJob, job_id=job_id, task_id=task_id, hostname=hostname)
    if job is None:
        return False
    job.phase = "starting"
    job.log_tail = [*job.log_tail, _line(f"Started on {job.worker_hostname or 'this process'}.")][-LOG_TAIL_LINES:]
    job.save(update_fields=["phase", "log_tail", "updated_at"])
    return True


def job_output_dir(job: FineTuneJob) -> Path:
    return artifacts_dir() / "finetune" / f"job-{job.pk}"


def finetune_job_execute(*, job_id: int) -> str:
    """Run a claimed (running) job to its end. Never raises: the outcome is stored on the job."""
    from celery.exceptions import SoftTimeLimitExceeded

    from models_ml.llm.training import TrainingError, train

    job = FineTuneJob.objects.get(pk=job_id)
    tracker = JobTracker(job)
    try:
        tracker.note("Loading training dialogues from the database.", phase="data")
        records = selectors.job_training_records(job)
        # Transcripts leave the database for a model's weights: audited like any export.
        export_audit_create(
            user=job.created_by,
            channel="finetune",
            options=selectors.job_export_options(job),
            fmt=f"finetune-{job.task}",
            dialogue_count=len(records),
        )
        tracker.note(f"{len(records)} dialogues loaded. Loading the base model {job.base_model}.", phase="loading")
        out = job_output_dir(job)
        result = train(
            job.hyperparameters,
            records,
            out,
            progress_cb=tracker.progress,
            should_stop=tracker.should_stop,
            extra_callbacks=[tracker.callback()],
        )
    except SoftTimeLimitExceeded:
        return _finish_failed(tracker, str(ERR_TIME_LIMIT))
    except (TrainingError, ValueError) as exc:
        return _finish_failed(tracker, str(ERR_TRAINING % {"detail": exc}))
    except Exception as exc:  # every failure must end in a stored, readable state
        logger.exception("fine-tuning job %s failed", job_id)
        if type(exc).__name__ == "OutOfMemoryError":
            return _finish_failed(tracker, str(ERR_OUT_OF_MEMORY))
        return _finish_failed(tracker, str(ERR_UNEXPECTED % {"detail": f"{type(exc).__name__}: {exc}"}))
    if result.cancelled:
        return _finish_cancelled(tracker)
    return _finish_succeeded(tracker, result)


def _summary_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if k not in ("log_history", "config", "test_ids")}


@transaction.atomic
def _finish_succeeded(tracker: JobTracker, result: Any) -> str:
    job = FineTuneJob.objects.select_for_update().get(pk=tracker.job_id)
    if job.status != JobStatus.RUNNING:  # reaped or cancelled meanwhile: keep that outcome
        return job.status
    metrics = _summary_metrics(result.metrics)
    tracker.log.append(_line(f"Done: adapter saved to {result.adapter_dir}."))
    job.status = JobStatus.SUCCEEDED
    job.progress = 100
    job.message = job.phase = "done"
    job.finished_at = timezone.now()
    job.step = max(tracker.step, int(metrics.get("global_step") or 0))
    job.total_steps = max(tracker.total, job.step)
    job.epoch = float(metrics.get("epoch") or tracker.epoch)
    job.eta_seconds = 0
    job.loss_history = tracker.history()
    job.log_tail = list(tracker.log)
    job.metrics = metrics
    job.output_dir = result.output_dir
    job.adapter_path = result.adapter_dir or ""
    job.save()
    job_notify(model=FineTuneJob, job_id=job.pk)
    ModelVersion.objects.create(
        name=f"QLoRA job #{job.pk} ({job.task}, {job.data_subset})",
        kind=job.model_kind,
        backend=Backend.HF,
        config={"base_model": job.base_model, "adapter_path": job.adapter_path},
        metrics={k: metrics[k] for k in ("eval_loss", "eval_perplexity", "train_loss", "global_step") if k in metrics},
        source_job=job,
        is_active=False,
    )
    return job.status


@transaction.atomic
def _finish_cancelled(tracker: JobTracker) -> str:
    tracker.log.append(_line("Cancelled: training stopped, no adapter saved."))
    tracker.phase = "cancelled"
    tracker.flush()
    job_finish(model=FineTuneJob, job_id=tracker.job_id, status=JobStatus.CANCELLED, eta_seconds=None)
    return FineTuneJob.objects.values_list("status", flat=True).get(pk=tracker.job_id)


@transaction.atomic
def _finish_failed(tracker: JobTracker, reason: str) -> str:
    tracker.log.append(_line(reason))
    tracker.phase = "failed"
    tracker.flush()
    finetune_job_fail(job_id=tracker.job_id, reason=reason)
    return JobStatus.FAILED


@transaction.atomic
def finetune_job_fail(*, job_id: int, reason: str) -> bool:
    """Mark a queued or running job failed with ``reason``; a finished job keeps its outcome."""
    job = FineTuneJob.objects.select_for_update().filter(pk=job_id).first()
    if job is None or job.is_terminal:
        return False
    job.status = JobStatus.FAILED
    job.error = reason
    job.error_code = "failed"
    job.finished_at = timezone.now()
    job.eta_seconds = None
    job.phase = "failed"
    if not job.log_tail or reason not in job.log_tail[-1]:
        job.log_tail = [*job.log_tail, _line(reason)][-LOG_TAIL_LINES:]
    job.save()
    job_notify(model=FineTuneJob, job_id=job.pk)
    return True


def finetune_jobs_reap_stale(*, stale_after: timedelta | None = None) -> int:
    """Mark running jobs whose heartbeat is older than ``stale_after`` (default ``KOKORO_FINETUNE_STALE_S``)
    as failed (worker lost): the shared reaper, limited to fine-tuning jobs."""
    return jobs_reap_stale(models=[FineTuneJob], stale_after=stale_after)


def finetune_job_run_inline(*, job: FineTuneJob) -> str:
    """``manage.py finetune --wait``: claim and run a queued job in this process (CPU smoke runs)."""
    import socket

    if not finetune_job_claim(job_id=job.pk, hostname=f"{socket.gethostname()} (inline)"):
        return FineTuneJob.objects.values_list("status", flat=True).get(pk=job.pk)
    return finetune_job_execute(job_id=job.pk)


__all__ = [
    "finetune_job_cancel",
    "finetune_job_claim",
    "finetune_job_create",
    "finetune_job_execute",
    "finetune_job_fail",
    "finetune_job_retry",
    "finetune_job_run_inline",
    "finetune_job_start",
    "finetune_jobs_reap_stale",
    "job_output_dir",
]
