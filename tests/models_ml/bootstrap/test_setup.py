"""First-run set-up: import, scorer, both indexes as jobs, once per folder; sessions that waited are scored."""

import time
from pathlib import Path

import pytest
from django.urls import reverse

from feedback.models import Feedback
from models_ml.bootstrap import services
from models_ml.bootstrap.models import DatasetImportJob, SetupRun
from models_ml.bootstrap.selectors import pieces
from models_ml.finetuning.models import ModelVersion, RetrievalIndexJob
from models_ml.jobs.control import job_cancel, job_log_lines
from models_ml.jobs.models import JobStatus
from models_ml.scoring.backends import clear_cache
from models_ml.scoring.models import Prediction, PredictionStatus, ScorerModel, ScorerTrainingJob
from models_ml.scoring.services import prediction_compute, predictions_waiting_rescore
from roleplay.models import SessionSource
from tests.models_ml.bootstrap.dataset_folder import write_dataset_folder
from tests.models_ml.scoring.scorer_samples import make_session_with_messages

pytestmark = pytest.mark.django_db


@pytest.fixture
def folder(tmp_path, settings) -> Path:
    settings.KOKOROCHAT_DIR = tmp_path / "kokorochat_dialogues"
    settings.KOKORO_BOOTSTRAP_ON_START = True
    settings.KOKORO_FINETUNE_EMBEDDED_THREAD = False
    clear_cache()
    return write_dataset_folder(settings.KOKOROCHAT_DIR)


def _start(django_capture_on_commit_callbacks) -> SetupRun:
    """What the web process does on its first start; the task is run here (embedded and services mode alike)."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = services.bootstrap_on_start()
    tasks = [c for c in callbacks if c.__qualname__.startswith("job_dispatch.")]
    assert run is not None and len(tasks) == 1  # one task, sent after the commit (live pushes aside)
    return run


def test_first_start_queues_every_step_then_runs_them_in_order(folder, django_capture_on_commit_callbacks):
    session = make_session_with_messages(n=10)
    waiting = prediction_compute(session_id=session.pk)  # no scorer yet: a state, not a failure
    assert waiting.status == PredictionStatus.WAITING

    run = _start(django_capture_on_commit_callbacks)
    assert [s.status for s in run.steps()] == [JobStatus.QUEUED] * 4  # all shown at once on the set-up page
    assert {p.key for p in pieces() if p.preparing} == {"dataset", "scorer", "counselor_index", "client_index"}

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert services.setup_execute(run_id=run.pk, hostname="test") == JobStatus.SUCCEEDED
    run.refresh_from_db()
    assert run.status == JobStatus.SUCCEEDED and run.percent == 100
    assert all(s.status == JobStatus.SUCCEEDED for s in run.steps()), [(s.status, s.error) for s in run.steps()]
    assert Feedback.objects.filter(session__source=SessionSource.IMPORTED).count() == 24
    assert run.import_job.imported == 24 and run.import_job.done == run.import_job.total == 24
    assert ScorerModel.objects.get(is_active=True) == ScorerTrainingJob.objects.get().scorer_model
    assert set(ModelVersion.objects.filter(is_active=True).values_list("kind", flat=True)) == {"counselor", "client"}
    assert all(p.ready for p in pieces())
    lines = [e.line for e in job_log_lines(job=run)]
    assert lines[-1] == "Set-up finished" and any("Import the published dataset" in line for line in lines)
    assert any("24 imported" in e.line for e in job_log_lines(job=run.import_job))

    # The waiting session: the activation queued the re-scoring job (after commit).
    assert len(callbacks) >= 1
    assert predictions_waiting_rescore() == 1
    assert Prediction.objects.get(session=session).status == PredictionStatus.PENDING
    done = prediction_compute(session_id=session.pk)
    assert done.status == PredictionStatus.DONE and len(done.items) == 20


def test_a_second_start_does_nothing(folder, django_capture_on_commit_callbacks):
    run = _start(django_capture_on_commit_callbacks)
    services.setup_execute(run_id=run.pk)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert services.bootstrap_on_start() is None
        assert services.setup_start() is None
    assert callbacks == [] and SetupRun.objects.count() == 1 and DatasetImportJob.objects.count() == 1


def test_without_the_folder_nothing_is_queued(tmp_path, settings, django_capture_on_commit_callbacks):
    settings.KOKOROCHAT_DIR = tmp_path / "missing"
    settings.KOKORO_BOOTSTRAP_ON_START = True
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert services.bootstrap_on_start() is None
    assert callbacks == [] and not SetupRun.objects.exists()


def test_an_interrupted_set_up_resumes_on_the_next_start_keeping_finished_steps(
    folder, settings, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = True  # embedded mode: a restart killed the threads
    run = _start(django_capture_on_commit_callbacks)
    services.dataset_import_job_execute(job_id=run.import_job_id)  # the first step finished, then the server stopped
    SetupRun.objects.filter(pk=run.pk).update(status=JobStatus.RUNNING)
    ScorerTrainingJob.objects.filter(pk=run.scorer_job_id).update(status=JobStatus.RUNNING)

    again = _start(django_capture_on_commit_callbacks)
    run.refresh_from_db()
    assert (run.status, run.error_code) == (JobStatus.FAILED, services.CODE_INTERRUPTED)
    assert again.pk != run.pk and again.import_job_id == run.import_job_id  # kept: nothing imported twice
    assert again.scorer_job_id != run.scorer_job_id
    assert RetrievalIndexJob.objects.get(pk=run.counselor_index_job_id).status == JobStatus.CANCELLED


def test_cancelling_the_set_up_cancels_its_steps_and_it_does_not_restart(folder, django_capture_on_commit_callbacks):
    run = _start(django_capture_on_commit_callbacks)
    services.setup_cancel(run=run)
    assert {s.status for s in SetupRun.objects.get(pk=run.pk).steps()} == {JobStatus.CANCELLED}
    assert services.setup_execute(run_id=run.pk) == "skipped"
    with django_capture_on_commit_callbacks(execute=False):
        assert services.bootstrap_on_start() is None  # staff decided; the page offers "run again"


def test_a_cancelled_import_stops_at_its_next_chunk(folder, django_capture_on_commit_callbacks, monkeypatch):
    monkeypatch.setattr(services, "IMPORT_CHUNK", 5)
    with django_capture_on_commit_callbacks(execute=False):
        job = services.dataset_import_job_create(source=folder)
    real_progress = services.job_progress

    def cancel_after_first_chunk(**kwargs):
        if kwargs.get("done") == 5:
            job_cancel(model=DatasetImportJob, job_id=job.pk)
        return real_progress(**kwargs)

    monkeypatch.setattr(services, "job_progress", cancel_after_first_chunk)
    assert services.dataset_import_job_execute(job_id=job.pk) == JobStatus.CANCELLED
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and Feedback.objects.count() == 5


def test_staff_import_an_uploaded_zip_as_a_job_and_the_post_answers_at_once(
    client, folder, tmp_path, django_capture_on_commit_callbacks
):
    import shutil

    from tests.factories import UserFactory

    archive = shutil.make_archive(str(tmp_path / "upload"), "zip", folder)
    client.force_login(UserFactory(is_staff=True))
    client.get(reverse("bootstrap:setup"))  # warm: the timed part is the POST, not the first imports of the process
    with open(archive, "rb") as fh, django_capture_on_commit_callbacks(execute=False) as callbacks:
        started = time.perf_counter()
        response = client.post(reverse("bootstrap:import"), {"upload": fh})
        elapsed = time.perf_counter() - started
    assert response.status_code == 302 and len(callbacks) == 1 and elapsed < 1.0
    job = DatasetImportJob.objects.get()
    assert job.uploaded and job.total == 24 and job.status == JobStatus.QUEUED
    assert services.dataset_import_job_execute(job_id=job.pk) == JobStatus.SUCCEEDED
    job.refresh_from_db()
    assert (job.imported, job.rejected_count, job.percent) == (24, 0, 100)
    assert not Path(job.source).exists()  # the uploaded copy is removed
    page = client.get(reverse("bootstrap:setup")).content.decode()
    assert "24 files: 24 imported" in page


def test_an_unusable_source_is_refused_on_the_form(client, tmp_path):
    from tests.factories import UserFactory

    client.force_login(UserFactory(is_staff=True))
    response = client.post(reverse("bootstrap:import"), {"path": str(tmp_path / "nope")})
    assert response.status_code == 400 and not DatasetImportJob.objects.exists()
    assert "nope" in response.content.decode()


def test_the_set_up_pages_are_for_staff_only(client):
    from tests.factories import UserFactory

    client.force_login(UserFactory())
    for name in ("bootstrap:setup", "bootstrap:status", "models_ml:scorers"):
        assert client.get(reverse(name)).status_code == 403
    assert client.post(reverse("bootstrap:start")).status_code == 403


def test_every_staff_post_that_starts_work_answers_at_once_and_leaves_a_queued_job(
    client, folder, django_capture_on_commit_callbacks
):
    """The requests only queue (the jobs run after the response, in a thread or on a worker)."""
    from tests.factories import UserFactory

    client.force_login(UserFactory(is_staff=True))
    client.get(reverse("bootstrap:setup"))  # warm: the timed part is the POST, not the first imports of the process
    posts = [
        (reverse("bootstrap:start"), {}, SetupRun),
        (reverse("bootstrap:import"), {"path": str(folder)}, DatasetImportJob),
        (reverse("models_ml:scorer_train"), {"min_sessions": 10}, ScorerTrainingJob),
        (reverse("partners:model_build_retrieval"), {"role": "client"}, RetrievalIndexJob),
    ]
    timings = {}
    for url, data, model in posts:
        before = model.objects.count()
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            started = time.perf_counter()
            response = client.post(url, data)
            timings[url] = time.perf_counter() - started
        assert response.status_code == 302, (url, response.status_code)
        assert len(callbacks) == 1 and model.objects.count() > before  # one job queued, sent after commit
        assert model.objects.order_by("-pk").first().status == JobStatus.QUEUED
    assert max(timings.values()) < 1.0, timings


def test_an_arena_judge_job_cancelled_from_its_page_stops_after_the_current_pair(
    client, django_capture_on_commit_callbacks, monkeypatch
):
    """The shared cancel button on a job page of another app (arena): queued → cancelled; a running loop stops."""
    from models_ml.arena.models import JudgeJob
    from models_ml.jobs.services import job_claim
    from tests.factories import UserFactory

    job = JudgeJob.objects.create(n_battles=5, total=5)
    staff = UserFactory(is_staff=True)
    client.force_login(staff)
    page = client.get(reverse("arena:job_progress", args=["judge", job.pk])).content.decode()
    cancel = reverse("jobs:cancel", args=["arena_judge", job.pk])
    assert cancel in page
    job_claim(model=JudgeJob, job_id=job.pk)
    response = client.post(cancel, {"next": reverse("arena:job_detail", args=["judge", job.pk])})
    assert response.status_code == 302 and response["Location"].endswith(f"/judge/{job.pk}/")
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.finished_at is not None
    assert "Cancelled by" in job_log_lines(job=job)[-1].line
    assert cancel not in client.get(reverse("arena:job_progress", args=["judge", job.pk])).content.decode()
    assert client.post(cancel).status_code == 302  # a second click: "already ended", nothing changes
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED


@pytest.mark.django_db(transaction=True)
def test_the_server_start_check_works_inside_a_running_event_loop(folder, monkeypatch):
    """uvicorn --workers imports kokoro_site.asgi inside its event loop: the start check must not query there."""
    import asyncio

    from django.core.exceptions import SynchronousOnlyOperation

    started = []
    monkeypatch.setattr(services, "setup_start", lambda retry=False: started.append(retry) or "queued")

    async def in_loop(check):
        return check()

    with pytest.raises(SynchronousOnlyOperation):  # what asgi.py did before: the bug this guards against
        asyncio.run(in_loop(services.bootstrap_on_start))
    assert asyncio.run(in_loop(services.bootstrap_on_server_start)) == "queued"
    assert started == [False]
