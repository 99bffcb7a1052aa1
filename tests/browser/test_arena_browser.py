"""The human arena in a real browser: staff starts a dialogue, sees two anonymous candidates, picks one, the AI
client answers and the next pair appears; the battle is stored. Counselor/client models are OpenAI-compatible
endpoints served by the scripted localhost server of the arena tests."""

from __future__ import annotations

import pytest

from models_ml.arena import services
from models_ml.arena.models import ArenaBattle
from models_ml.finetuning.models import ModelVersion, RoleCard
from tests.browser.conftest import login
from tests.factories import UserFactory
from tests.models_ml.arena.conftest import CARD, CLIENT_TEXT, MARKER, llm_server, llm_stub  # noqa: F401

pytestmark = pytest.mark.browser


def _version(url: str, model: str, kind: str) -> ModelVersion:
    return ModelVersion.objects.create(
        name=model, kind=kind, backend="openai", config={"base_url": url, "model": model, "timeout": 5}, is_active=True
    )


def test_staff_judges_a_pair_and_the_dialogue_continues(asgi_live_server, browser, llm_server, settings):  # noqa: F811
    settings.KOKORO_GENERATION_BACKENDS = {}
    services.backend_cache_clear()
    staff = UserFactory(is_staff=True)
    card = RoleCard.objects.create(**CARD)
    good = _version(llm_server, "counselor-good", "counselor")
    plain = _version(llm_server, "counselor-plain", "counselor")
    client = _version(llm_server, "client", "client")
    context = login(browser, asgi_live_server.url, staff)
    page = context.new_page()
    page.goto(f"{asgi_live_server.url}/ml/arena/battle/")
    page.select_option("#id_role_card", str(card.pk))
    page.select_option("#id_model_a", str(good.pk))
    page.select_option("#id_model_b", str(plain.pk))
    page.select_option("#id_client_version", str(client.pk))
    page.click("form.ar-form button[type=submit]")
    page.wait_for_selector(".ar-candidate")
    assert page.locator(".ar-candidate").count() == 2
    assert page.locator(".ar-turn-client").first.inner_text().endswith(CLIENT_TEXT)
    assert "counselor-good" not in page.content()  # the models stay anonymous
    good_box = page.locator(".ar-candidate", has_text=MARKER)
    position = good_box.get_attribute("data-position")
    good_box.locator("button.ar-choose").click()
    page.wait_for_function("document.querySelectorAll('.ar-turn').length === 3")
    turns = page.locator(".ar-turn")
    assert MARKER in turns.nth(1).inner_text()  # the chosen reply continues the dialogue
    assert turns.nth(2).inner_text().endswith(CLIENT_TEXT)  # and the AI client answered it
    assert page.locator(".ar-candidate").count() == 2  # the next pair
    battle = ArenaBattle.objects.get()
    assert battle.winner == "a" and battle.judge_user == staff and battle.judge_kind == "human"
    assert battle.shown_order == ("ab" if position == "1" else "ba")
    context.close()
    services.backend_cache_clear()
