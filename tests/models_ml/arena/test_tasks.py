"""The simulation job through Redis and a real Celery worker (services mode)."""

from __future__ import annotations

import time

import pytest

from models_ml.arena import services
from models_ml.arena.models import JobStatus, SimulationJob
from models_ml.jobs.services import ERR_WORKER_LOST
from roleplay.models import Message


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_real_worker_runs_a_simulation_job(redis_required, version, role_card, settings):
    from celery.contrib.testing.worker import start_worker

    from kokoro_site.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    client, counselor = version("client", kind="client"), version("counselor-close-2")
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, queues=["default"]):
        job = services.simulation_job_create(
            role_card_ids=[role_card.pk], client_version_id=client.pk, counselor_version_id=counselor.pk
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.is_terminal:
                break
            time.sleep(0.2)
    job = SimulationJob.objects.get(pk=job.pk)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert (job.done, job.turns) == (1, 4)
    assert Message.objects.filter(session=job.items.get().session).count() == 4


def test_task_failure_is_stored_as_a_failed_job(role_card, monkeypatch):
    from models_ml.arena import tasks

    job = SimulationJob.objects.create(total=1)

    def boom(*, job_id):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(services, "simulation_job_execute", boom)
    with pytest.raises(RuntimeError):
        tasks.run_simulation(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "kaboom" in job.error


def test_silent_running_job_is_reaped_as_failed_and_a_recent_one_is_kept(db, settings):
    from datetime import timedelta

    from django.utils import timezone

    from models_ml.arena.models import JudgeJob

    settings.KOKORO_ARENA_STALE_S = 600
    old = timezone.now() - timedelta(seconds=601)
    stale = SimulationJob.objects.create(status=JobStatus.RUNNING, heartbeat_at=old)
    stale_judge = JudgeJob.objects.create(status=JobStatus.RUNNING, heartbeat_at=old)
    alive = SimulationJob.objects.create(status=JobStatus.RUNNING, heartbeat_at=timezone.now())
    assert services.arena_jobs_reap_stale() == 2
    for job in (stale, stale_judge):
        job.refresh_from_db()
        assert job.status == JobStatus.FAILED
        assert job.error == str(ERR_WORKER_LOST % {"minutes": 10})
    alive.refresh_from_db()
    assert alive.status == JobStatus.RUNNING
