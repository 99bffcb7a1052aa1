"""English simulations (issue 20 item 4): the sessions record language "en", the AI client plays an English card
in an English prompt, the counselor is prompted in English and closes with an English phrase (a real HTTP
server on localhost answers)."""

from __future__ import annotations

import pytest

from models_ml.arena import services
from models_ml.arena.models import JobStatus, SimulatedSession
from models_ml.finetuning.models import ModelVersion, RoleCard
from models_ml.finetuning.services import role_cards_load_examples
from models_ml.llm.prompts import COUNSELOR_SYSTEM_PROMPT_EN
from roleplay.models import Message
from tests.openai_stub import OpenAIStub

pytestmark = pytest.mark.django_db

CLIENT_EN = "I have not been sleeping well since I changed departments."
COUNSELOR_EN = "That sounds exhausting. What keeps you awake?"
CLOSING_EN = "Thank you for telling me all this. Take care of yourself."


def _reply(body: dict) -> str:
    said = sum(1 for m in body["messages"] if m["role"] == "assistant")
    if body["model"] == "client-en":
        return CLIENT_EN
    return CLOSING_EN if said + 1 >= 2 else COUNSELOR_EN


@pytest.fixture
def english_server():
    with OpenAIStub(_reply) as stub:
        yield stub


def _version(stub, model: str, kind: str) -> ModelVersion:
    config = {"base_url": stub.base_url, "model": model, "timeout": 5, "language": "en"}
    return ModelVersion.objects.create(name=model, kind=kind, backend="openai", config=config, is_active=True)


def test_an_english_simulation_uses_english_cards_and_prompts(english_server, django_capture_on_commit_callbacks):
    role_cards_load_examples(language="en")
    card = RoleCard.objects.get(name="Office worker on constant overtime")
    client, counselor = _version(english_server, "client-en", "client"), _version(english_server, "c-en", "counselor")
    with django_capture_on_commit_callbacks(execute=True):
        job = services.simulation_job_create(
            role_card_ids=[card.pk], client_version_id=client.pk, counselor_version_id=counselor.pk, language="en"
        )
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.language == "en"
    item = SimulatedSession.objects.select_related("session").get(job=job)
    assert item.session.language == "en" and item.session.is_synthetic
    assert (item.end, item.closing_phrase, item.turns) == ("closing", "take care of yourself", 4)
    texts = list(Message.objects.filter(session=item.session).order_by("seq").values_list("text", flat=True))
    assert texts == [CLIENT_EN, COUNSELOR_EN, CLIENT_EN, CLOSING_EN]
    systems = {r["model"]: r["messages"][0]["content"] for r in english_server.requests}
    assert systems["c-en"] == COUNSELOR_SYSTEM_PROMPT_EN
    assert "# Your persona" in systems["client-en"] and card.chief_complaint in systems["client-en"]
    assert systems["client-en"].isascii()


def test_an_english_simulation_refuses_japanese_cards(english_server):
    role_cards_load_examples()
    japanese = RoleCard.objects.filter(language="ja").first()
    with pytest.raises(services.ArenaError) as exc:
        services.simulation_job_create(role_card_ids=[japanese.pk], language="en")
    assert japanese.name in str(exc.value.message)
    with pytest.raises(services.ArenaError):
        services.simulation_job_create(role_card_ids=[japanese.pk], language="xx")
