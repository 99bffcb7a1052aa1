"""Celery tasks of the set-up app: one dataset import, one first-run set-up (its steps in order)."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(bind=True, name="models_ml.bootstrap.tasks.import_dataset", soft_time_limit=60 * 60, time_limit=61 * 60)
def import_dataset(self, job_id: int) -> str:
    """One ``DatasetImportJob`` (JSON args: its id)."""
    return services.dataset_import_job_execute(
        job_id=job_id, task_id=self.request.id or "", hostname=self.request.hostname or ""
    )


@shared_task(
    bind=True, name="models_ml.bootstrap.tasks.run_setup", soft_time_limit=5 * 60 * 60, time_limit=5 * 60 * 60 + 60
)
def run_setup(self, run_id: int) -> str:
    """One ``SetupRun``: import, scorer, indexes (each step stores its own outcome)."""
    return services.setup_execute(run_id=run_id, task_id=self.request.id or "", hostname=self.request.hostname or "")
