"""The "llm" scorer backend: a causal LM (here reached through an OpenAI-compatible endpoint on
localhost) reads the dialogue and writes the 20 item scores."""

import json

import pytest
from django.core.management import call_command

from feedback.items import ITEMS
from models_ml.finetuning.models import ModelVersion
from models_ml.llm.data import format_scores
from models_ml.scoring.base import ScorerError, get_scorer
from models_ml.scoring.llm_scorer import ERR_NO_SCORER_MODEL, ERR_UNPARSABLE, score_messages
from models_ml.scoring.models import Prediction, PredictionStatus
from models_ml.scoring.services import prediction_compute
from tests.openai_stub import OpenAIStub

from .scorer_samples import make_session_with_messages, sample_records

ITEMS_ANSWER = [4, 3, 2, 3, 4, 4, 3, 3, 4, 4, 5, 4, 3, 3, 3, 2, 3, 3, 2, 4]


def _register_scorer(base_url: str) -> ModelVersion:
    return ModelVersion.objects.create(
        name="score-llm",
        kind="scorer",
        backend="openai",
        config={"base_url": base_url, "model": "scorer"},
        is_active=True,
    )


@pytest.mark.django_db
def test_without_a_scorer_model_the_llm_backend_is_a_clear_error():
    with pytest.raises(ScorerError) as err:
        get_scorer("llm")
    assert str(err.value) == str(ERR_NO_SCORER_MODEL)


@pytest.mark.django_db
def test_llm_scorer_reads_the_20_items_and_applies_the_score_rule():
    dialogue = sample_records(1)[0]
    with OpenAIStub(lambda body: "評価です。\n" + format_scores(ITEMS_ANSWER)) as stub:
        _register_scorer(stub.base_url)
        prediction = get_scorer("llm").predict(dialogue)
    assert prediction.items == ITEMS_ANSWER
    assert prediction.total == sum(ITEMS_ANSWER)
    sent = stub.requests[0]["messages"]
    assert sent == score_messages(dialogue)
    assert dialogue.messages[0].text in sent[1]["content"]


@pytest.mark.django_db
def test_an_answer_without_20_scores_is_a_clear_error():
    with OpenAIStub(lambda body: "よくわかりません。") as stub:
        _register_scorer(stub.base_url)
        with pytest.raises(ScorerError) as err:
            get_scorer("llm").predict(sample_records(1)[0])
    assert str(err.value) == str(ERR_UNPARSABLE)


@pytest.mark.django_db
def test_ended_session_scored_by_the_llm_backend_stores_its_prediction(settings):
    settings.KOKORO_SCORER_BACKEND = "llm"
    session = make_session_with_messages(warm=True, n=12)
    with OpenAIStub(lambda body: format_scores(ITEMS_ANSWER)) as stub:
        _register_scorer(stub.base_url)
        prediction_compute(session_id=session.pk)
    stored = Prediction.objects.get(session=session)
    assert stored.status == PredictionStatus.DONE
    assert stored.backend == "llm"
    assert stored.items == ITEMS_ANSWER
    assert stored.total == sum(ITEMS_ANSWER)


@pytest.mark.django_db
def test_llm_backend_unreachable_fails_the_prediction_with_a_reason(settings):
    settings.KOKORO_SCORER_BACKEND = "llm"
    session = make_session_with_messages(warm=True, n=12)
    _register_scorer("http://127.0.0.1:9/v1")
    prediction_compute(session_id=session.pk)
    stored = Prediction.objects.get(session=session)
    assert stored.status == PredictionStatus.FAILED
    assert "LLM" in stored.reason


@pytest.mark.django_db
def test_llm_prediction_is_queued_on_the_gpu_queue(settings, django_capture_on_commit_callbacks, monkeypatch):
    from models_ml.scoring import services, tasks

    settings.KOKORO_SCORER_BACKEND = "llm"
    session = make_session_with_messages(warm=True, n=12)
    queued = []
    monkeypatch.setattr(tasks.score_session, "apply_async", lambda args, queue=None: queued.append((args, queue)))
    with django_capture_on_commit_callbacks(execute=True):
        services.prediction_request(session_id=session.pk)
    assert queued == [((session.pk,), "gpu")]


@pytest.mark.django_db
def test_evaluate_scorer_runs_the_protocol_for_the_llm_backend(tmp_path, capsys, monkeypatch):
    records = sample_records(40)
    monkeypatch.setattr("models_ml.scoring.management.commands.evaluate_scorer.labelled_dialogues", lambda: records)
    answers = {score_messages(r)[1]["content"]: format_scores(list(r.items)) for r in records}

    def answer(body):  # a perfect scorer for the sessions it is shown
        return answers.get(body["messages"][1]["content"], "?")

    with OpenAIStub(answer) as stub:
        _register_scorer(stub.base_url)
        call_command(
            "evaluate_scorer", "--backend", "llm", "--json", "--seeds", "0,1", "--report", str(tmp_path / "r.md")
        )
    result = json.loads(capsys.readouterr().out)["results"][0]
    assert result["backend"] == "llm"
    assert result["test_size"] == 4
    assert result["average"]["acc"]["mean"] == pytest.approx(100.0)
    assert result["average"]["mae"]["std"] == 0.0
    assert len(result["per_item"]) == len(ITEMS)
    assert (tmp_path / "r.md").read_text(encoding="utf-8").startswith("# Auto-scorer evaluation")


@pytest.mark.django_db
def test_evaluate_scorer_llm_without_a_model_exits_with_the_reason(monkeypatch):
    from django.core.management.base import CommandError

    monkeypatch.setattr(
        "models_ml.scoring.management.commands.evaluate_scorer.labelled_dialogues", lambda: sample_records(40)
    )
    with pytest.raises(CommandError) as err:
        call_command("evaluate_scorer", "--backend", "llm", "--seeds", "0")
    assert str(ERR_NO_SCORER_MODEL) in str(err.value)
