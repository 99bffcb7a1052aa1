"""The auto-scorer's prediction reaches the counselor's open result page without a reload."""

import threading

import pytest
from django.db import connections

from models_ml.scoring.backends import clear_cache
from models_ml.scoring.models import Prediction, PredictionStatus
from models_ml.scoring.services import prediction_compute, scorer_train
from tests.browser.conftest import login
from tests.models_ml.scoring.scorer_samples import make_session_with_messages, sample_records

# The prediction is pushed from the test's own thread: that needs a channel layer shared across
# threads and processes, i.e. Redis (CI sets REDIS_URL; elsewhere the test skips).
pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.timeout(120)]


def _score_in_worker_thread(session_id: int) -> None:
    try:
        prediction_compute(session_id=session_id)
    finally:
        connections.close_all()


def test_prediction_appears_on_the_counselors_open_result_page_without_reload(
    asgi_live_server, browser, redis_required
):
    clear_cache()
    scorer_train(records=sample_records(40), min_sessions=10)
    session = make_session_with_messages(warm=True, n=12)
    base = asgi_live_server.url
    ctx = login(browser, base, session.counselor)
    try:
        page = ctx.new_page()
        page.goto(f"{base}/feedback/sessions/{session.pk}/result/")
        page.wait_for_selector('#fb-live[data-state="live"]')  # the session socket is open
        assert page.get_attribute("#ml-prediction-body", "data-status") == "none"
        page.evaluate("window.__notReloaded = true")

        # What the Celery task does when the session ends; in a thread of its own, as in a worker
        # (Playwright keeps an event loop running in this one).
        worker = threading.Thread(target=_score_in_worker_thread, args=(session.pk,))
        worker.start()
        worker.join(timeout=60)

        stored = Prediction.objects.get(session=session)
        assert stored.status == PredictionStatus.DONE
        page.wait_for_selector('#ml-prediction-body[data-status="done"]')
        assert f"{stored.total}" in page.inner_text("#ml-prediction .ml-total")
        assert page.evaluate("window.__notReloaded") is True
    finally:
        ctx.close()
