"""The one periodic clean-up of every job type (celery beat: ``reap-stale-jobs``)."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="models_ml.jobs.tasks.reap_stale_jobs", soft_time_limit=60, time_limit=90, ignore_result=True)
def reap_stale_jobs() -> dict[str, int]:
    """Running jobs whose worker stopped sending heartbeats become failed; registered reapers run too."""
    return services.reap_all()
