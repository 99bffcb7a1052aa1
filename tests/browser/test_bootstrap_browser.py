"""Fresh database, the published-format folder in place: the first start sets everything up in the background
(a progress bar per step on the staff set-up page) and the counselor's waiting prediction appears by itself;
staff build a retrieval index from the Models page and watch its bar reach 100 %."""

import time

import pytest
from django.db import connections

from models_ml.bootstrap.models import SetupRun
from models_ml.bootstrap.services import bootstrap_on_start
from models_ml.finetuning.models import RetrievalIndexJob
from models_ml.jobs.models import JobStatus
from models_ml.scoring.backends import clear_cache
from models_ml.scoring.models import Prediction, PredictionStatus
from models_ml.scoring.services import prediction_compute
from tests.browser.conftest import login
from tests.factories import UserFactory
from tests.models_ml.bootstrap.dataset_folder import write_dataset_folder
from tests.models_ml.scoring.scorer_samples import make_session_with_messages

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


@pytest.fixture
def embedded_jobs(settings, tmp_path):
    """`make run`'s embedded mode: jobs are background threads of the web process."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.KOKORO_FINETUNE_EMBEDDED_THREAD = True
    settings.KOKORO_BOOTSTRAP_ON_START = True
    settings.KOKOROCHAT_DIR = tmp_path / "kokorochat_dialogues"
    clear_cache()
    write_dataset_folder(settings.KOKOROCHAT_DIR)
    yield settings
    # Let a job thread that is still writing finish before the database is flushed.
    deadline = time.monotonic() + 60
    while SetupRun.objects.filter(status__in=("queued", "running")).exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    connections.close_all()


def test_first_start_sets_up_in_the_background_and_the_waiting_prediction_appears(
    asgi_live_server, browser, embedded_jobs
):
    session = make_session_with_messages(warm=True, n=12)
    assert prediction_compute(session_id=session.pk).status == PredictionStatus.WAITING
    staff = UserFactory(is_staff=True)
    base = asgi_live_server.url
    counselor_ctx = login(browser, base, session.counselor)
    staff_ctx = login(browser, base, staff)
    try:
        page = counselor_ctx.new_page()
        page.goto(f"{base}/feedback/sessions/{session.pk}/result/")
        body = page.locator("#ml-prediction-body")
        assert body.get_attribute("data-status") == "waiting"
        assert "manage.py" not in page.content() and page.locator("#ml-prediction .errorlist").count() == 0
        page.evaluate("window.__notReloaded = true")

        started = time.monotonic()
        run = bootstrap_on_start()  # what the web process does when `make run` starts it
        assert run is not None and time.monotonic() - started < 1.0  # queued, not run, at start-up

        admin = staff_ctx.new_page()
        admin.goto(f"{base}/ml/setup/")
        assert admin.locator(".setup-steps .job-card").count() == 4  # a progress bar per step
        assert admin.locator(".setup-steps .job-progress-bar").count() == 4
        admin.wait_for_selector('#setup-status[data-run-status="succeeded"]', timeout=180_000)
        bars = admin.locator(".setup-steps .job-progress-bar")
        assert [bars.nth(i).get_attribute("aria-valuenow") for i in range(4)] == ["100"] * 4
        assert "Set-up finished" in admin.text_content(f"#job-setup_run-{run.pk} .job-log")

        page.wait_for_selector('#ml-prediction-body[data-status="done"]', timeout=60_000)
        stored = Prediction.objects.get(session=session)
        assert stored.status == PredictionStatus.DONE
        assert str(stored.total) in page.inner_text("#ml-prediction .ml-total")
        assert page.evaluate("window.__notReloaded") is True  # it updated in place

        assert bootstrap_on_start() is None  # a second start does nothing
        assert SetupRun.objects.count() == 1
    finally:
        counselor_ctx.close()
        staff_ctx.close()


def test_staff_build_an_index_and_its_progress_bar_reaches_100(asgi_live_server, browser, embedded_jobs):
    from feedback.dataset.importer import dataset_import

    dataset_import(path=embedded_jobs.KOKOROCHAT_DIR)  # High-scored sessions to index
    staff = UserFactory(is_staff=True)
    base = asgi_live_server.url
    ctx = login(browser, base, staff)
    try:
        page = ctx.new_page()
        page.goto(f"{base}/ml/partners/models/")
        page.select_option("select[name=role]", "client")
        started = time.monotonic()
        with page.expect_navigation():
            page.click("form[action$='/models/retrieval/'] button[type=submit]")
        answered = time.monotonic() - started
        assert answered < 2.0, answered  # the POST queues a job and answers at once (+ the redirected page)
        job = RetrievalIndexJob.objects.get()
        card = page.locator(f"#job-retrieval_index-{job.pk}")
        card.wait_for()
        page.wait_for_selector(f'#job-retrieval_index-{job.pk}[data-status="succeeded"]', timeout=120_000)
        assert card.locator(".job-progress-bar").get_attribute("aria-valuenow") == "100"
        assert "100 %" in card.inner_text()
        job.refresh_from_db()
        assert job.status == JobStatus.SUCCEEDED and job.model_version.is_active
    finally:
        ctx.close()
