"""English-mode practice (issue 20 item 4): with translations imported, a trainee whose UI is English
practises with an AI counselor that answers from the English translations; the session records "en"."""

import pytest
from django.urls import reverse
from django.utils import translation

from feedback.dataset.importer import dataset_import
from models_ml.finetuning.selectors import generation_backend_config, partner_available, retrieval_records
from models_ml.finetuning.services import retrieval_index_build
from models_ml.practice.selectors import practice_language
from models_ml.practice.services import practice_session_start
from roleplay.models import Message, Role
from tests.dataset.conftest import LINES_EN, make_dialogue, make_multilingual, write_files
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("keep_active_language")]


# High-scored (70-98): all items 4-5 give a total in range.
HIGH_ITEMS = (4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 4, 4, 4, 4, 5, 5, 5, 4)


@pytest.fixture
def translated(tmp_path):
    files = {f"en{i}.json": make_multilingual(make_dialogue(evaluation_id=i, items=HIGH_ITEMS)) for i in (1, 2)}
    with translation.override("en"):
        assert dataset_import(path=write_files(tmp_path, files)).ok


def test_english_retrieval_records_are_the_translations(translated):
    records = retrieval_records(language="en")
    assert len(records) == 2 and records[0]["dialogue"][0]["utterance"] == LINES_EN[0]
    assert retrieval_records()[0]["dialogue"][0]["utterance"].endswith("。")


def test_the_english_index_is_separate_from_the_japanese_one(translated, settings, tmp_path):
    settings.KOKORO_ARTIFACTS_DIR = tmp_path
    english = retrieval_index_build(role="counselor", language="en")
    assert english.config["language"] == "en" and "(en)" in english.name
    assert generation_backend_config(kind="counselor", language="en")["index_path"] == english.config["index_path"]
    japanese = retrieval_index_build(role="counselor")
    assert generation_backend_config(kind="counselor")["index_path"] == japanese.config["index_path"]
    assert generation_backend_config(kind="counselor", language="en")["index_path"] == english.config["index_path"]


def test_practice_language_follows_the_ui_when_an_english_partner_can_answer(translated):
    assert practice_language(ai_role="counselor", ui_language="en") == "en"
    assert practice_language(ai_role="counselor", ui_language="ja") == "ja"
    assert practice_language(ai_role="counselor", ui_language="en", chosen_model=True) == "ja"
    assert practice_language(ai_role="counselor", ui_language="zh-hans") == "ja"  # no Chinese translation
    assert partner_available(kind="counselor", language="en") and not partner_available(kind="counselor", language="zh")


def test_an_english_ui_trainee_gets_an_english_ai_counselor(
    translated, client, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.KOKORO_ARTIFACTS_DIR = tmp_path
    trainee = UserFactory()
    client.force_login(trainee)
    client.cookies.load({"django_language": "en"})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("practice:start"), {"ai_role": "counselor"})
    assert response.status_code == 302
    session = trainee.sessions_as_client.get()
    assert session.language == "en" and session.is_synthetic
    greeting = Message.objects.get(session=session)
    assert greeting.role == Role.COUNSELOR and greeting.text in LINES_EN


def test_japanese_practice_is_unchanged(translated, settings, tmp_path, django_capture_on_commit_callbacks):
    settings.KOKORO_ARTIFACTS_DIR = tmp_path
    with django_capture_on_commit_callbacks(execute=True):
        session = practice_session_start(user=UserFactory(), ai_role="counselor")
    assert session.language == "ja"
    assert Message.objects.get(session=session).text.endswith(("。", "か。", "？"))


def test_an_english_ai_client_answers_from_the_english_translations(translated, settings, tmp_path):
    from models_ml.practice.services import practice_reply_generate
    from roleplay.services.chat import message_create

    settings.KOKORO_ARTIFACTS_DIR = tmp_path
    trainee = UserFactory()
    with translation.override("en"):
        session = practice_session_start(user=trainee, ai_role="client", language="en")
    message_create(session_id=session.pk, user=trainee, text="Hello. What would you like to talk about today?")
    outcome = practice_reply_generate(session_id=session.pk, after_seq=1)
    assert outcome.status == "stored", outcome
    reply = Message.objects.get(session=session, seq=2)
    assert reply.role == Role.CLIENT and reply.text.strip() and reply.text.isascii()
