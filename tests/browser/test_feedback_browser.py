"""The client sends the form on a phone-sized page; the counselor's open result page updates live."""

import pytest

from feedback.items import ITEMS
from feedback.models import Feedback
from tests.browser.conftest import login
from tests.feedback.helpers import ended_session

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 375, "height": 740}


def test_client_submits_on_a_phone_and_the_counselors_open_result_page_updates_without_reload(
    asgi_live_server, browser
):
    session = ended_session()
    base = asgi_live_server.url

    counselor_ctx = login(browser, base, session.counselor)
    counselor = counselor_ctx.new_page()
    counselor.goto(f"{base}/feedback/sessions/{session.pk}/result/")
    counselor.wait_for_selector("#fb-waiting")
    counselor.wait_for_selector('#fb-live[data-state="live"]')
    counselor.evaluate(
        """() => { window.__notReloaded = true; window.__frames = [];
                   window.addEventListener("kokoro:event", (e) => window.__frames.push(e.detail)); }"""
    )

    client_ctx = login(browser, base, session.client, viewport=PHONE)
    phone = client_ctx.new_page()
    phone.goto(f"{base}/feedback/sessions/{session.pk}/")
    assert phone.locator(".fb-item").count() == len(ITEMS)
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # Submitting with items left open points at them instead of sending.
    phone.locator("#fb-submit").click()
    assert phone.locator("#fb-missing").is_visible()
    assert phone.locator(".fb-missing-item").count() == len(ITEMS)

    scores = [(n % 6) for n in range(len(ITEMS))]  # 0,1,2,3,4,5,0,... -> sum 49
    for item, score in zip(ITEMS, scores, strict=True):
        phone.locator(f'.fb-item[data-item="{item.field}"] .fb-opt:has(input[value="{score}"])').click()
    assert phone.locator("#fb-answered").inner_text() == str(len(ITEMS))
    phone.locator('input[name="unwilling_to_continue"]').check()
    phone.locator("#fb-submit").click()
    phone.wait_for_selector(".fb-done")

    expected = sum(scores) // 2  # S3 halves the total
    counselor.wait_for_selector("#fb-result-body")
    assert counselor.locator("#fb-total").inner_text() == str(expected)
    assert counselor.evaluate("window.__notReloaded") is True
    assert "feedback" in counselor.evaluate("window.__frames.map((f) => f.type)")
    assert counselor.evaluate("!!window.Chart && !!Chart.getChart('fb-item-chart')") is True

    stored = Feedback.objects.get(session=session)
    assert stored.total == expected and stored.unwilling_to_continue is True
    assert stored.item_values == scores
    client_ctx.close()
    counselor_ctx.close()
