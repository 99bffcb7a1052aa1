"""English-mode practice with generation models (issue 20 item 4): an English session prompts an
OpenAI-compatible partner (the localhost SSE server, real HTTP) in English — the AI counselor's system prompt
and the AI client's English role card — while a Japanese session keeps the Japanese prompts."""

from __future__ import annotations

import pytest

from models_ml.finetuning.models import RoleCard
from models_ml.llm.prompts import CLIENT_SYSTEM_PROMPT_TEMPLATE_EN, COUNSELOR_SYSTEM_PROMPT, COUNSELOR_SYSTEM_PROMPT_EN
from models_ml.llm.role_cards import example_role_cards, render_client_system_prompt
from models_ml.practice.services import practice_reply_generate, practice_session_start
from roleplay.models import Message, Role
from roleplay.services.chat import message_create
from tests.factories import UserFactory

from .conftest import model_version

pytestmark = pytest.mark.django_db


def _system(request: dict) -> str:
    first = request["messages"][0]
    assert first["role"] == "system"
    return first["content"]


def _english(kind: str, endpoint) -> None:
    model_version(
        kind=kind,
        backend="openai",
        config={"base_url": endpoint.base_url, "model": "m", "language": "en"},
        name=f"English {kind}",
    )


def test_an_english_session_prompts_the_openai_counselor_in_english(endpoint, django_capture_on_commit_callbacks):
    _english("counselor", endpoint)
    with django_capture_on_commit_callbacks(execute=True):
        session = practice_session_start(user=UserFactory(), ai_role="counselor", language="en")
    assert session.language == "en"
    assert Message.objects.filter(session=session, role=Role.COUNSELOR).count() == 1  # the greeting was stored
    system = _system(endpoint.requests[-1])
    assert system == COUNSELOR_SYSTEM_PROMPT_EN and system.isascii()


def test_a_japanese_session_still_prompts_in_japanese(endpoint, django_capture_on_commit_callbacks):
    model_version(kind="counselor", backend="openai", config={"base_url": endpoint.base_url, "model": "m"})
    _english("counselor", endpoint)  # an English model exists too: a Japanese session never takes it
    with django_capture_on_commit_callbacks(execute=True):
        session = practice_session_start(user=UserFactory(), ai_role="counselor")
    assert session.language == "ja" and _system(endpoint.requests[-1]) == COUNSELOR_SYSTEM_PROMPT


def test_an_english_ai_client_plays_an_english_card_in_an_english_prompt(endpoint):
    _english("client", endpoint)
    trainee = UserFactory()
    session = practice_session_start(user=trainee, ai_role="client", language="en")
    card = session.practice.role_card
    assert card.language == "en" and card.name in {c.name for c in example_role_cards("en").values()}
    assert not RoleCard.objects.filter(language="ja").exists()  # only the session language's examples loaded
    message_create(session_id=session.pk, user=trainee, text="Hello. What would you like to talk about today?")
    assert practice_reply_generate(session_id=session.pk, after_seq=1).status == "stored"
    system = _system(endpoint.requests[-1])
    assert system == render_client_system_prompt(card.to_core())
    assert system.startswith(CLIENT_SYSTEM_PROMPT_TEMPLATE_EN.split("{card}")[0]) and "# Your persona" in system
    assert endpoint.requests[-1]["messages"][1] == {
        "role": "user",
        "content": "Hello. What would you like to talk about today?",
    }


def test_a_chosen_card_sets_the_session_language(endpoint, ready):
    _english("client", endpoint)
    from models_ml.finetuning.services import role_cards_load_examples

    assert role_cards_load_examples() == 6  # both languages
    english = RoleCard.objects.filter(language="en").first()
    japanese = RoleCard.objects.filter(language="ja").first()
    assert practice_session_start(user=UserFactory(), ai_role="client", role_card_id=english.pk).language == "en"
    chosen = practice_session_start(user=UserFactory(), ai_role="client", role_card_id=japanese.pk, language="en")
    assert chosen.language == "ja"
