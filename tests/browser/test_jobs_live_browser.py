"""Live job progress in a real browser through the real ASGI server: a fine-tuning job page's progress component
(bar, percent, step / total, log tail, state chip) follows ``job_progress`` writes of a worker thread by push over
ws/jobs/, with the htmx polling fallback set to an hour, and without reloading the page."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.urls import reverse

from models_ml.finetuning.models import FineTuneJob
from models_ml.jobs.models import JobStatus
from models_ml.jobs.services import job_finish, job_progress
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


def test_job_page_bar_moves_to_100_percent_by_push(asgi_live_server, browser, settings):
    settings.KOKORO_JOBS_POLL_S = 3600  # the fallback polling would take an hour: only the push can move the bar
    staff = UserFactory(is_staff=True)
    job = FineTuneJob.objects.create(
        task="response", data_subset="full", base_model="/models/base", hyperparameters={},
        status=JobStatus.RUNNING, total_steps=100, log_tail=["started"],
    )  # fmt: skip
    fragment = reverse("partners:job_progress", args=[job.pk])
    base = asgi_live_server.url
    page = login(browser, base, staff).new_page()
    fetched = []
    page.on("request", lambda request: fetched.append(request.url) if fragment in request.url else None)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(base + reverse("partners:job_detail", args=[job.pk]))
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
