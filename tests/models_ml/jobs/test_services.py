"""The one job machinery: claim, progress / heartbeat, counters, finish, reap, dispatch and the job types."""

import time
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from kokoro_site.celery import app as celery_app
from models_ml.arena.models import SimulationJob
from models_ml.coaching.models import SuggestionRun
from models_ml.finetuning.models import FineTuneJob, RetrievalIndexJob
from models_ml.jobs import services
from models_ml.jobs.models import Job, JobStatus
from models_ml.scoring.base import ERR_TOO_FEW_SESSIONS
from models_ml.scoring.models import ScorerTrainingJob
from models_ml.scoring.services import TrainingError, scorer_training_job_create, scorer_training_job_execute
from tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

EXPECTED_TYPES = {
    "finetune",
    "retrieval_index",
    "scorer_training",
    "arena_simulation",
    "arena_judge",
    "arena_eval",
    "arena_label",
    "coaching_suggestions",
    "dataset_import",
    "setup_run",
}


def test_every_long_job_is_a_registered_job_type_on_the_one_abstract_model_and_enum():
    types = services.job_types()
    assert set(types) == EXPECTED_TYPES
    for job_type in types.values():
        assert issubclass(job_type.model, Job)
        field = job_type.model._meta.get_field("status")
        assert list(field.choices) == list(JobStatus.choices), job_type.key
        for name in ("progress", "message", "heartbeat_at", "error_code", "started_at", "finished_at", "attempts"):
            job_type.model._meta.get_field(name)


def test_a_job_is_claimed_once_and_counts_its_attempts():
    job = RetrievalIndexJob.objects.create(role="counselor")
    claimed = services.job_claim(model=RetrievalIndexJob, job_id=job.pk, task_id="t-1", hostname="gpu-1")
    assert claimed is not None and claimed.status == JobStatus.RUNNING
    assert (claimed.attempts, claimed.worker_hostname, claimed.celery_task_id) == (1, "gpu-1", "t-1")
    assert claimed.started_at == claimed.heartbeat_at is not None
    assert services.job_claim(model=RetrievalIndexJob, job_id=job.pk) is None  # a redelivered message
    assert services.job_claim(model=RetrievalIndexJob, job_id=999999) is None


def test_a_fine_tuning_job_whose_cancellation_was_requested_is_not_claimed():
    job = FineTuneJob.objects.create(task="response", data_subset="full", base_model="x", cancel_requested=True)
    assert services.job_claim(model=FineTuneJob, job_id=job.pk) is None
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED


def test_progress_is_a_heartbeat_clamped_to_0_100_and_only_for_a_running_job():
    job = RetrievalIndexJob.objects.create(role="counselor")
    assert services.job_progress(model=RetrievalIndexJob, job_id=job.pk, progress=50) is False  # still queued
    services.job_claim(model=RetrievalIndexJob, job_id=job.pk)
    before = RetrievalIndexJob.objects.get(pk=job.pk).heartbeat_at
    assert services.job_progress(model=RetrievalIndexJob, job_id=job.pk, progress=140, message="x" * 400)
    job.refresh_from_db()
    assert job.progress == 100 and len(job.message) == 300 and job.heartbeat_at >= before


def test_counters_move_the_progress_of_a_counted_job():
    job = SimulationJob.objects.create(total=4)
    services.job_claim(model=SimulationJob, job_id=job.pk)
    services.job_count(model=SimulationJob, job_id=job.pk, field="done")
    services.job_count(model=SimulationJob, job_id=job.pk, field="failed")
    job.refresh_from_db()
    assert (job.done, job.failed, job.progress, job.percent) == (1, 1, 50, 50)
    with pytest.raises(ValueError):
        services.job_count(model=SimulationJob, job_id=job.pk, field="total")


def test_a_finished_job_is_never_overwritten_and_success_means_100_percent():
    job = RetrievalIndexJob.objects.create(role="client")
    services.job_claim(model=RetrievalIndexJob, job_id=job.pk)
    assert services.job_finish(model=RetrievalIndexJob, job_id=job.pk, message="done")
    assert not services.job_fail(model=RetrievalIndexJob, job_id=job.pk, reason="late")
    job.refresh_from_db()
    assert (job.status, job.progress, job.percent, job.error) == (JobStatus.SUCCEEDED, 100, 100, "")
    assert job.finished_at is not None and job.is_terminal and not job.is_active


def test_the_reaper_fails_silent_running_jobs_of_every_type_and_keeps_fresh_ones(settings):
    settings.KOKORO_ARENA_STALE_S = 60
    settings.KOKORO_FINETUNE_STALE_S = 60
    old = timezone.now() - timedelta(hours=1)
    silent_sim = SimulationJob.objects.create(status=JobStatus.RUNNING, started_at=old, heartbeat_at=old)
    fresh_sim = SimulationJob.objects.create(status=JobStatus.RUNNING, started_at=old, heartbeat_at=timezone.now())
    silent_index = RetrievalIndexJob.objects.create(role="counselor", status=JobStatus.RUNNING, started_at=old)
    silent_tune = FineTuneJob.objects.create(
        task="response",
        data_subset="full",
        base_model="x",
        status=JobStatus.RUNNING,
        started_at=old,
        heartbeat_at=old,
        worker_hostname="gpu-7",
    )
    run = SuggestionRun.objects.create(session=SessionFactory(), status=JobStatus.RUNNING, started_at=old)
    result = services.reap_all()
    assert result["jobs"] == 4 and "practice_replies" in result
    for job in (silent_sim, silent_index, silent_tune, run):
        job.refresh_from_db()
        assert (job.status, job.error_code) == (JobStatus.FAILED, services.CODE_WORKER_LOST), job
        assert job.finished_at is not None and job.error
    fresh_sim.refresh_from_db()
    assert fresh_sim.status == JobStatus.RUNNING
    assert silent_tune.phase == "failed"  # fine-tuning's own bookkeeping
    # One reason for every job type; the worker and its last heartbeat when the job had one.
    for job in (silent_sim, silent_index, silent_tune, run):
        minutes = round(services.job_type_of(type(job)).stale_after_s() / 60)
        reason = str(services.ERR_WORKER_LOST % {"minutes": minutes})
        if job is silent_tune:
            reason += f" (gpu-7, {timezone.localtime(old):%Y-%m-%d %H:%M:%S})"
        assert job.error == reason, job


def test_one_beat_entry_reaps_every_job_type():
    reapers = [e for e in django_settings.CELERY_BEAT_SCHEDULE.values() if "reap" in e["task"]]
    assert reapers == [{"task": "models_ml.jobs.tasks.reap_stale_jobs", "schedule": 60.0}]
    celery_app.loader.import_default_modules()
    assert "models_ml.jobs.tasks.reap_stale_jobs" in celery_app.tasks


class RecordingTask:
    name = "tests.recording"

    def __init__(self) -> None:
        self.sent: list = []
        self.applied: list = []

    def apply_async(self, args, **options):
        self.sent.append((args, options))

    def apply(self, args, task_id=None):
        self.applied.append(args)


def test_dispatch_waits_for_the_commit_and_uses_the_queue(settings, django_capture_on_commit_callbacks):
    settings.CELERY_TASK_ALWAYS_EAGER = False  # services mode
    task = RecordingTask()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.job_dispatch(task=task, args=[7], queue="gpu", task_id="abc")
    assert task.sent == [] and len(callbacks) == 1  # nothing leaves before the commit
    callbacks[0]()
    assert task.sent == [([7], {"queue": "gpu", "task_id": "abc"})] and task.applied == []


def test_embedded_dispatch_runs_in_a_background_thread_or_inline(settings, django_capture_on_commit_callbacks):
    settings.CELERY_TASK_ALWAYS_EAGER = True  # embedded mode
    task = RecordingTask()
    with django_capture_on_commit_callbacks(execute=True):
        services.job_dispatch(task=task, args=[3], embedded_thread=False)
    assert task.sent == [([3], {"queue": "default"})]  # apply_async, which eager Celery runs inline
    with django_capture_on_commit_callbacks(execute=True):
        services.job_dispatch(task=task, args=[4], embedded_thread=True)
    for _ in range(50):
        if task.applied:
            break
        time.sleep(0.05)
    assert task.applied == [[4]]  # run by a thread of this process; the request is not kept waiting


def test_scorer_training_without_enough_sessions_fails_clearly(settings, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = scorer_training_job_create(min_sessions=10)
    assert len(callbacks) == 1
    scorer_training_job_execute(job_id=job.pk)  # what the task does (embedded and services mode alike)
    job.refresh_from_db()
    assert (job.status, job.error_code, job.attempts) == (JobStatus.FAILED, "too_few_sessions", 1)
    assert job.error == str(ERR_TOO_FEW_SESSIONS % {"count": 0, "minimum": 10})
    assert job.scorer_model is None


def test_a_bad_scorer_training_request_saves_nothing(django_capture_on_commit_callbacks):
    for bad in (0, 9, "20", True):
        with pytest.raises(TrainingError) as info, django_capture_on_commit_callbacks() as callbacks:
            scorer_training_job_create(min_sessions=bad)
        assert info.value.code == "min_sessions" and callbacks == []
    assert not ScorerTrainingJob.objects.exists()


def test_scorer_training_job_trains_and_activates_a_version(settings, django_capture_on_commit_callbacks):
    from tests.models_ml.scoring.scorer_samples import make_labelled_sessions

    make_labelled_sessions(24)
    with django_capture_on_commit_callbacks(execute=False):
        job = scorer_training_job_create(min_sessions=20, seed=1)
    scorer_training_job_execute(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.progress == 100 and job.scorer_model is not None and job.scorer_model.is_active
    assert job.message == job.scorer_model.version and job.scorer_model.train_size == 22


def test_every_celery_route_and_beat_entry_names_a_real_task():
    from fnmatch import fnmatch

    celery_app.loader.import_default_modules()
    names = set(celery_app.tasks)
    for pattern in django_settings.CELERY_TASK_ROUTES:
        assert any(fnmatch(name, pattern) for name in names), pattern
    for entry in django_settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in names, entry
