"""A real Celery worker process on the gpu queue, killed with SIGKILL in the middle of a job: the job must end
FAILED with a clear reason (never stuck in running), and a retry must run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from celery.exceptions import WorkerLostError
from celery.signals import task_failure
from django.conf import settings
from django.db import connection

from models_ml.finetuning import services
from models_ml.finetuning.models import FineTuneJob, JobStatus, ModelVersion
from models_ml.finetuning.tasks import gpu_finetune
from models_ml.jobs.services import ERR_WORKER_LOST
from tests.conftest import REPO_ROOT
from tests.models_ml.finetuning.conftest import make_scored_session, tiny_hyperparameters

CELERY = str(Path(sys.executable).with_name("celery"))


def _test_database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _wait_for(predicate, timeout: float, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            pytest.fail("the worker exited early:\n" + log.read_text()[-3000:])
        time.sleep(0.2)
    pytest.fail("timed out; worker log:\n" + log.read_text()[-3000:])


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_job_leaves_it_failed_with_reason_and_retry_runs(
    postgres_required, redis_required, tiny_base_model, tmp_path
):
    import redis

    for i, score in enumerate([85, 90, 72, 78, 60, 40]):
        make_scored_session(i, score, turns=2)
    redis.Redis.from_url(settings.REDIS_URL).delete("gpu")  # our own Redis DB: drop messages of earlier tests
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "kokoro_site.settings.test",
        "DATABASE_URL": _test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "KOKORO_ARTIFACTS_DIR": str(tmp_path / "artifacts"),
        "KOKORO_FINETUNE_HEARTBEAT_S": "0.5",
        "KOKORO_FINETUNE_PROGRESS_WRITE_S": "0.2",
        "OMP_NUM_THREADS": "1",
    }
    node = f"gpu-test-{uuid.uuid4().hex[:8]}@%h"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [CELERY, "-A", "kokoro_site", "worker", "-Q", "gpu", "--pool", "solo", "-n", node, "-l", "info",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        job = services.finetune_job_create(
            task="response", base_model=str(tiny_base_model), hyperparameters=tiny_hyperparameters(), max_steps=100_000
        )
        services.finetune_job_start(job=job)  # no surrounding transaction: queued at once

        def training() -> bool:
            job.refresh_from_db()
            assert not job.is_terminal, job.error
            return job.status == JobStatus.RUNNING and job.step >= 2

        _wait_for(training, 90, proc, log)
        assert job.worker_hostname.startswith("gpu-test-")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING  # nobody told the database yet
    time.sleep(1.2)
    assert services.finetune_jobs_reap_stale(stale_after=timedelta(seconds=1)) == 1
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error.startswith(f"{ERR_WORKER_LOST % {'minutes': 0}} ({job.worker_hostname}, ")
    assert job.finished_at is not None
    assert not ModelVersion.objects.filter(source_job=job).exists()

    retry = services.finetune_job_retry(job=job, max_steps=4)  # same settings, a shorter run
    assert retry.status == JobStatus.QUEUED and retry.retry_of == job
    assert retry.hyperparameters["training"] | {"max_steps": 0} == job.hyperparameters["training"] | {"max_steps": 0}
    # The message is in Redis; run it exactly as a worker would (same task, same claim).
    assert gpu_finetune.apply(args=[retry.pk], task_id=retry.celery_task_id).get() == JobStatus.SUCCEEDED
    retry.refresh_from_db()
    assert retry.status == JobStatus.SUCCEEDED and retry.step == 4
    assert ModelVersion.objects.filter(source_job=retry).exists()
    # A redelivered message of the killed job does not run it again.
    assert gpu_finetune.apply(args=[job.pk]).get() == "skipped"


def test_worker_lost_signal_marks_the_running_job_failed(db):
    job = FineTuneJob.objects.create(task="response", data_subset="full", base_model="/m", status=JobStatus.RUNNING)
    task_failure.send(
        sender=gpu_finetune,
        task_id="t-1",
        exception=WorkerLostError("Worker exited prematurely: signal 9 (SIGKILL)."),
        args=[job.pk],
        kwargs={},
        traceback=None,
        einfo=None,
    )
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert str(services.ERR_WORKER_LOST_SIGNAL) in job.error and "SIGKILL" in job.error


def test_stale_reaper_leaves_fresh_and_finished_jobs_alone(db):
    from django.utils import timezone

    old = timezone.now() - timedelta(hours=1)
    stale = FineTuneJob.objects.create(
        task="response", data_subset="full", base_model="/m", status=JobStatus.RUNNING, heartbeat_at=old,
        worker_hostname="w1@gpu",
    )  # fmt: skip
    fresh = FineTuneJob.objects.create(
        task="response", data_subset="full", base_model="/m", status=JobStatus.RUNNING, heartbeat_at=timezone.now()
    )
    done = FineTuneJob.objects.create(
        task="response", data_subset="full", base_model="/m", status=JobStatus.SUCCEEDED, heartbeat_at=old
    )
    assert services.finetune_jobs_reap_stale(stale_after=timedelta(minutes=10)) == 1
    for j in (stale, fresh, done):
        j.refresh_from_db()
    assert stale.status == JobStatus.FAILED and "w1@gpu" in stale.error
    assert fresh.status == JobStatus.RUNNING
    assert done.status == JobStatus.SUCCEEDED and done.error == ""
