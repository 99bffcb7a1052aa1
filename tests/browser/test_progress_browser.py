"""The counselor's progress page in a real browser: feedback's rating charts and coaching's skill charts (its
"feedback.progress" panel, with its own script) are all drawn."""

import pytest

from tests.browser.conftest import login
from tests.models_ml.coaching.conftest import make_session

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

RATING_CHARTS = ("fb-totals-chart", "fb-aspects-chart", "fb-item-chart")
SKILL_CHARTS = ("fb-predicted-chart", "fb-pred-items-chart", "fb-signals-chart", "fb-response-chart")


def test_progress_page_draws_the_rating_charts_and_the_coaching_skill_charts(asgi_live_server, browser):
    from models_ml.scoring.models import Prediction, PredictionStatus

    first = make_session(total=50)
    second = make_session(total=80, counselor=first.counselor)
    Prediction.objects.create(session=second, status=PredictionStatus.DONE, items=[4] * 20, total=78)
    base = asgi_live_server.url
    page = login(browser, base, first.counselor).new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{base}/feedback/progress/")
    every = " && ".join(f"!!Chart.getChart('{c}')" for c in RATING_CHARTS + SKILL_CHARTS)
    page.wait_for_function(f"() => !!window.Chart && {every}")
    predicted = page.evaluate("Chart.getChart('fb-predicted-chart').data.datasets.map((d) => d.data)")
    assert predicted == [[None, 78], [50, 80]]  # predicted, actual per session
    assert errors == []
