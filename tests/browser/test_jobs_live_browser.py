"""Live job progress in a real browser through the real ASGI server: a fine-tuning job page's progress component
(bar, percent, step / total, log tail, state chip), its loss chart and ETA, the arena's job lists and per-session
table and the Models page's index builds follow the job writes of a worker thread by push over ws/jobs/, with the
htmx polling fallback set to an hour, and without reloading the page."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.db.models import F
from django.urls import reverse

from models_ml.arena.models import SimulatedSession, SimulationJob
from models_ml.finetuning.models import LIVE_LOSS_POINTS, FineTuneJob, RetrievalIndexJob
from models_ml.jobs.models import JobStatus
from models_ml.jobs.services import job_count, job_finish, job_progress
from tests.browser.conftest import login
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


def _in_worker(fn, **kwargs):
    """Run a job service in a thread of its own, like a Celery worker or the embedded job thread (the test's
    thread runs Playwright's event loop, where the channel layer's sync API cannot be used)."""

    def run():
        try:
            return fn(**kwargs)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result(timeout=30)


def _open_watched(browser, base: str, staff, path: str, fragment: str):
    """``path`` opened by ``staff``: (the page, the requests for ``fragment`` — the polling fallback — and the
    page's script errors, both recorded from the start)."""
    page = login(browser, base, staff).new_page()
    fetched: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: fetched.append(request.url) if fragment in request.url else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(base + path)
    return page, fetched, errors


def test_job_page_bar_moves_to_100_percent_by_push(asgi_live_server, browser, settings):
    settings.KOKORO_JOBS_POLL_S = 3600  # the fallback polling would take an hour: only the push can move the bar
    staff = UserFactory(is_staff=True)
    job = FineTuneJob.objects.create(
        task="response", data_subset="full", base_model="/models/base", hyperparameters={},
        status=JobStatus.RUNNING, total_steps=100, log_tail=["started"],
    )  # fmt: skip
    fragment = reverse("partners:job_progress", args=[job.pk])
    base = asgi_live_server.url
    page, fetched, errors = _open_watched(browser, base, staff, reverse("partners:job_detail", args=[job.pk]), fragment)
    root = f'[data-job="finetune:{job.pk}"]'
    assert "every 3600s" in page.locator("#pt-progress").get_attribute("hx-trigger")
    # Subscribed: the socket sent the job's state as stored.
    page.wait_for_function(f"document.querySelector('{root}').hasAttribute('data-pushed')")
    page.evaluate("window.__samePage = true")

    bar = f"{root} [data-job-field=bar]"
    _in_worker(job_progress, model=FineTuneJob, job_id=job.pk, progress=40, message="training", step=40,
               total_steps=100, log_tail=["started", "step 40/100 loss 1.2345"])  # fmt: skip
    page.wait_for_function(f"document.querySelector('{bar}').getAttribute('aria-valuenow') === '40'")
    assert page.locator(f"{bar} > span").get_attribute("style") == "width: 40%;"
    assert page.locator(f"{root} [data-job-field=percent]").inner_text() == "40"
    assert page.locator(f"{root} [data-job-field=step]").inner_text() == "40"
    assert page.locator(f"{root} [data-job-field=total]").inner_text() == "100"
    assert page.locator(f"{root} [data-job-field=message]").inner_text() == "training"
    assert "step 40/100 loss 1.2345" in page.locator("#pt-progress [data-job-field=log_tail]").inner_text()

    _in_worker(job_progress, model=FineTuneJob, job_id=job.pk, progress=100, step=100)
    page.wait_for_function(f"document.querySelector('{bar}').getAttribute('aria-valuenow') === '100'")
    assert page.locator(f"{bar} > span").get_attribute("style") == "width: 100%;"
    assert page.locator(f"{root} [data-job-field=step]").inner_text() == "100"
    assert page.evaluate("window.__samePage === true")  # no reload
    assert fetched == []  # and no polling: every change came by push
    chip = page.locator(f"{root} [data-job-field=status]")
    assert "job-chip-running" in chip.get_attribute("class")

    # Finished: the chip follows by push, then the fragment is fetched once for the final page (retry, model).
    with page.expect_request(lambda request: fragment in request.url):
        _in_worker(job_finish, model=FineTuneJob, job_id=job.pk)
    page.wait_for_selector(f"{root} .job-chip-succeeded")
    assert errors == []


def test_jobs_list_follows_every_job_shown(asgi_live_server, browser):
    staff = UserFactory(is_staff=True)
    values = {"task": "response", "data_subset": "full", "base_model": "/models/base", "hyperparameters": {}}
    running = FineTuneJob.objects.create(**values, status=JobStatus.RUNNING, total_steps=10)
    queued = FineTuneJob.objects.create(**values)
    base = asgi_live_server.url
    page = login(browser, base, staff).new_page()
    page.goto(base + reverse("partners:jobs"))
    for job in (running, queued):
        page.wait_for_function(
            f"document.querySelector('[data-job=\"finetune:{job.pk}\"]').hasAttribute('data-pushed')"
        )
    row = page.locator("tr", has=page.locator(f'[data-job="finetune:{running.pk}"]'))
    _in_worker(job_progress, model=FineTuneJob, job_id=running.pk, step=5, total_steps=10)
    page.wait_for_function(
        f"document.querySelector('[data-job=\"finetune:{running.pk}\"] [data-job-field=bar]')"
        ".getAttribute('aria-valuenow') === '50'"
    )
    assert row.locator("[data-job-field=step]").inner_text() == "5"
    _in_worker(job_finish, model=FineTuneJob, job_id=running.pk)
    chip = row.locator("[data-job-field=status]")
    page.wait_for_function(
        f"document.querySelector('[data-job=\"finetune:{running.pk}\"]').getAttribute('data-status') === 'succeeded'"
    )
    assert "pt-status-succeeded" in chip.get_attribute("class") and "pt-status-running" not in chip.get_attribute(
        "class"
    )
    assert chip.inner_text() == chip.get_attribute("data-label-succeeded") == "成功"
    other = page.locator("tr", has=page.locator(f'[data-job="finetune:{queued.pk}"]'))
    assert "pt-status-queued" in other.locator("[data-job-field=status]").get_attribute("class")  # untouched


def _chart_length(page, dataset: int) -> int:
    return page.evaluate(f"Chart.getChart('pt-loss-chart').data.datasets[{dataset}].data.length")


def test_job_page_loss_chart_and_eta_follow_by_push(asgi_live_server, browser, settings):
    settings.KOKORO_JOBS_POLL_S = 3600  # only the push can change the page
    staff = UserFactory(is_staff=True)
    history = [{"step": 5, "epoch": 0.05, "loss": 2.5}, {"step": 10, "epoch": 0.1, "loss": 2.0}]
    job = FineTuneJob.objects.create(
        task="response", data_subset="full", base_model="/models/base", hyperparameters={},
        status=JobStatus.RUNNING, step=10, total_steps=100, epoch=0.1, eta_seconds=600, loss_history=history,
    )  # fmt: skip
    fragment = reverse("partners:job_progress", args=[job.pk])
    base = asgi_live_server.url
    page, fetched, errors = _open_watched(browser, base, staff, reverse("partners:job_detail", args=[job.pk]), fragment)
    page.wait_for_function(f"document.querySelector('[data-job=\"finetune:{job.pk}\"]').hasAttribute('data-pushed')")
    page.evaluate("window.__samePage = true")
    assert (_chart_length(page, 0), _chart_length(page, 1)) == (2, 0)
    assert page.locator("#pt-eta").inner_text() == "残り時間 10分"

    # One progress write: a training point and a validation point, a new ETA and epoch.
    history += [{"step": 20, "epoch": 0.2, "loss": 1.5}, {"step": 20, "epoch": 0.2, "eval_loss": 1.8}]
    _in_worker(job_progress, model=FineTuneJob, job_id=job.pk, progress=20, step=20, epoch=0.2, eta_seconds=3900,
               loss_history=history)  # fmt: skip
    page.wait_for_function("Chart.getChart('pt-loss-chart').data.datasets[0].data.length === 3")
    assert _chart_length(page, 1) == 1
    assert page.evaluate("Chart.getChart('pt-loss-chart').data.datasets[0].data[2]") == {"x": 20, "y": 1.5}
    page.wait_for_function("document.getElementById('pt-eta').textContent === '残り時間 1時間05分'")
    assert page.locator("[data-job-field=epoch]").inner_text() == "0.20"
    assert fetched == [] and page.evaluate("window.__samePage === true")  # by push: no request, no reload

    # Frames were missed (more new points than a frame carries): the fragment is fetched for the whole history.
    history += [{"step": s, "epoch": s / 100, "loss": 1.0} for s in range(21, 22 + LIVE_LOSS_POINTS)]
    with page.expect_request(lambda request: fragment in request.url):
        _in_worker(job_progress, model=FineTuneJob, job_id=job.pk, step=21 + LIVE_LOSS_POINTS,
                   loss_history=history)  # fmt: skip
    page.wait_for_function(
        f"Chart.getChart('pt-loss-chart').data.datasets[0].data.length === {3 + 1 + LIVE_LOSS_POINTS}"
    )
    assert page.evaluate("window.__samePage === true")

    _in_worker(job_finish, model=FineTuneJob, job_id=job.pk, status=JobStatus.CANCELLED, eta_seconds=None)
    page.wait_for_selector("#pt-eta", state="hidden")  # no ETA once the job stopped
    assert errors == []


def test_arena_simulation_list_row_follows_its_job(asgi_live_server, browser, settings):
    settings.KOKORO_JOBS_POLL_S = 3600
    staff = UserFactory(is_staff=True)
    done = SimulationJob.objects.create(status=JobStatus.SUCCEEDED, done=2, total=2, progress=100)
    job = SimulationJob.objects.create(status=JobStatus.RUNNING, total=4)
    base = asgi_live_server.url
    page = login(browser, base, staff).new_page()
    page.goto(base + reverse("arena:simulations"))
    root = f'[data-job="arena_simulation:{job.pk}"]'
    page.wait_for_function(f"document.querySelector('{root}').hasAttribute('data-pushed')")
    row = page.locator("[data-job-scope]", has=page.locator(root))  # the job card (models_ml/jobs)
    assert row.locator("[data-job-show=failed]").is_hidden()

    _in_worker(job_count, model=SimulationJob, job_id=job.pk, field="done", turns=7)
    page.wait_for_function(
        f"document.querySelector('{root} [data-job-field=bar]').getAttribute('aria-valuenow') === '25'"
    )
    assert row.locator("[data-job-field=done]").inner_text() == "1"
    assert row.locator("[data-job-field=turns]").inner_text() == "7"
    _in_worker(job_count, model=SimulationJob, job_id=job.pk, field="failed")
    page.wait_for_function(
        f"document.querySelector('{root} [data-job-field=bar]').getAttribute('aria-valuenow') === '50'"
    )
    assert (
        row.locator("[data-job-show=failed]").is_visible()
        and row.locator("[data-job-field=failed]").inner_text() == "1"
    )

    _in_worker(job_finish, model=SimulationJob, job_id=job.pk)
    page.wait_for_function(f"document.querySelector('{root}').getAttribute('data-status') === 'succeeded'")
    chip = row.locator("[data-job-field=status]")
    assert "ar-status-succeeded" in chip.get_attribute("class") and "ar-status-running" not in chip.get_attribute(
        "class"
    )
    assert chip.inner_text() == "成功"
    # A job shown finished is not subscribed: it does not change any more.
    assert page.locator(f'[data-job="arena_simulation:{done.pk}"]').get_attribute("data-pushed") is None


def test_simulation_page_session_table_follows_by_throttled_refresh(asgi_live_server, browser, settings):
    settings.KOKORO_JOBS_POLL_S = 3600
    staff = UserFactory(is_staff=True)
    job = SimulationJob.objects.create(status=JobStatus.RUNNING, total=2)
    first, second = (SimulatedSession.objects.create(job=job, index=i) for i in range(2))
    fragment = reverse("arena:simulation_progress", args=[job.pk])
    base = asgi_live_server.url
    page, fetched, _errors = _open_watched(
        browser, base, staff, reverse("arena:simulation_detail", args=[job.pk]), fragment
    )
    page.wait_for_function(
        f"document.querySelector('[data-job=\"arena_simulation:{job.pk}\"]').hasAttribute('data-pushed')"
    )
    assert fetched == [] and page.locator("tr.ar-item-running").count() == 0

    SimulatedSession.objects.filter(pk=first.pk).update(status=JobStatus.RUNNING, turns=1)
    for _ in range(5):  # a burst of turns: at most one fetch now and one when REFRESH_MS has passed
        _in_worker(job_progress, model=SimulationJob, job_id=job.pk, turns=F("turns") + 1)
    page.wait_for_selector("tr.ar-item-running")
    page.wait_for_timeout(2500)
    assert 1 <= len(fetched) <= 2
    assert page.locator("#ar-sim-progress [data-job-field=turns]").inner_text() == "5"

    SimulatedSession.objects.filter(pk=first.pk).update(status=JobStatus.SUCCEEDED, turns=6)
    _in_worker(job_count, model=SimulationJob, job_id=job.pk, field="done")
    page.wait_for_selector("tr.ar-item-succeeded")
    assert page.locator("tr.ar-item-succeeded td").nth(3).inner_text() == "6"
    assert second.status == JobStatus.QUEUED and page.locator("tr.ar-item-queued").count() == 1


def test_models_page_follows_a_retrieval_index_build(asgi_live_server, browser, settings):
    settings.KOKORO_JOBS_POLL_S = 3600
    staff = UserFactory(is_staff=True)
    job = RetrievalIndexJob.objects.create(role="counselor", status=JobStatus.RUNNING)
    base = asgi_live_server.url
    page = login(browser, base, staff).new_page()
    page.goto(base + reverse("partners:models"))
    root = f'[data-job="retrieval_index:{job.pk}"]'
    page.wait_for_function(f"document.querySelector('{root}').hasAttribute('data-pushed')")
    _in_worker(job_progress, model=RetrievalIndexJob, job_id=job.pk, progress=60, message="Indexing")
    page.wait_for_function(
        f"document.querySelector('{root} [data-job-field=bar]').getAttribute('aria-valuenow') === '60'"
    )
    assert page.locator(f"{root} [data-job-field=message]").inner_text() == "Indexing"
    row = page.locator("[data-job-scope]", has=page.locator(root))  # the job card (models_ml/jobs)
    _in_worker(job_finish, model=RetrievalIndexJob, job_id=job.pk, status=JobStatus.FAILED, error="No sessions.")
    page.wait_for_function(f"document.querySelector('{root}').getAttribute('data-status') === 'failed'")
    assert "job-status-failed" in row.locator("[data-job-field=status]").get_attribute("class")
    assert row.locator("[data-job-field=error]").inner_text() == "No sessions."
