"""Celery tasks of the fine-tuning app: the GPU fine-tuning job and the retrieval index (stale jobs: models_ml.jobs)."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.exceptions import WorkerLostError
from celery.signals import task_failure
from django.conf import settings

from . import services
from .models import RetrievalIndexJob

logger = logging.getLogger(__name__)

GPU_QUEUE = "gpu"
FINETUNE_TIME_LIMIT_S = int(settings.KOKORO_FINETUNE_TIME_LIMIT_S)


@shared_task(
    bind=True,
    name="models_ml.finetuning.tasks.gpu_finetune",
    acks_late=True,
    reject_on_worker_lost=False,
    time_limit=FINETUNE_TIME_LIMIT_S,
    soft_time_limit=FINETUNE_TIME_LIMIT_S - 120,
    ignore_result=True,
    max_retries=0,
)
def gpu_finetune(self, job_id: int) -> str:
    """Run one QLoRA fine-tuning job on the ``gpu`` queue (worker: ``--pool solo``, one job per GPU).

    Delivery guarantees, on purpose:

    * ``acks_late=True``: the message is acknowledged when the task returns, so a job whose worker died
      *before* starting it (e.g. while it sat prefetched) is delivered again and runs.
    * ``reject_on_worker_lost=False``: when the worker process dies *during* the job (OOM kill, node lost,
      ``kill -9``), the message is acknowledged, not requeued. A half-finished multi-hour run must not
      silently restart from step 0 on another worker, burning GPU hours and overwriting its artefacts: the
      job is marked FAILED ("worker lost") by the ``task_failure`` handler below or, when the whole worker
      vanished, by ``finetune_jobs_reap_stale`` (stale heartbeat), and an administrator retries it.
    * ``finetune_job_claim`` only runs a job that is still ``queued``; a message redelivered by the broker
      after the visibility timeout for a job that already ran (or failed) is skipped.
    """
    if not services.finetune_job_claim(job_id=job_id, task_id=self.request.id or "", hostname=self.request.hostname):
        logger.info("fine-tuning job %s is not queued any more: skipped", job_id)
        return "skipped"
    return services.finetune_job_execute(job_id=job_id)


@task_failure.connect(sender=gpu_finetune)
def _on_gpu_finetune_failure(
    sender: Any = None,
    task_id: str | None = None,
    exception: BaseException | None = None,
    args: Any = None,
    **kwargs: Any,
) -> None:
    """The worker's parent process reports a lost child (WorkerLostError) or a hard time limit."""
    job_id = (args or [None])[0]
    if job_id is None:
        return
    if isinstance(exception, WorkerLostError):
        reason = f"{services.ERR_WORKER_LOST_SIGNAL} ({exception})"
    elif type(exception).__name__ == "TimeLimitExceeded":
        reason = str(services.ERR_TIME_LIMIT)
    else:
        reason = str(services.ERR_UNEXPECTED % {"detail": f"{type(exception).__name__}: {exception}"})
    services.finetune_job_fail(job_id=int(job_id), reason=reason)


@shared_task(
    bind=True,
    name="models_ml.finetuning.tasks.build_retrieval_index",
    soft_time_limit=30 * 60,
    time_limit=31 * 60,
    ignore_result=True,
)
def build_retrieval_index(self, job_id: int) -> str:
    """One ``RetrievalIndexJob`` (JSON args: its id)."""
    return services.retrieval_index_job_execute(
        job_id=job_id, task_id=self.request.id or "", hostname=self.request.hostname or ""
    )


@task_failure.connect(sender=build_retrieval_index)
def _on_index_failure(sender: Any = None, exception: BaseException | None = None, args: Any = None, **kw: Any) -> None:
    job_id = (args or [None])[0]
    if job_id is not None and exception is not None:
        from models_ml.jobs.services import job_fail_unexpected

        job_fail_unexpected(model=RetrievalIndexJob, job_id=int(job_id), exc=exception)
