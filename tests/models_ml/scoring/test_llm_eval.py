"""The LLM scorer's evaluation without leakage: each adapter on its own job's held-out test dialogues, one run
per adapter (seed), refusals for anything the adapter saw, a wrong test seed, or an unknown split."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from models_ml.finetuning.models import FineTuneJob, ModelVersion
from models_ml.llm.data import format_scores
from models_ml.scoring.llm_eval import ERR_LEAK, ERR_MISSING, ERR_NO_SPLIT, ERR_TEST_SEED
from models_ml.scoring.llm_scorer import score_messages
from models_ml.scoring.selectors import labelled_dialogues
from tests.models_ml.scoring.scorer_samples import make_labelled_sessions
from tests.openai_stub import OpenAIStub

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    sessions = make_labelled_sessions(30)
    eids = [str(s.feedback.evaluation_id) for s in sessions]
    records = {r.session_key: r for r in labelled_dialogues()}
    by_eid = {str(s.feedback.evaluation_id): records[str(s.pk)] for s in sessions}
    return {"eids": eids, "by_eid": by_eid}


def _version(base_url: str, model: str, split: dict | None, *, active: bool = False) -> ModelVersion:
    job = FineTuneJob.objects.create(
        task="score",
        data_subset="all",
        base_model="/models/base",
        status="succeeded",
        metrics={"split_ids": split} if split is not None else {"eval_loss": 1.0},
    )
    return ModelVersion.objects.create(
        name=model,
        kind="scorer",
        backend="openai",
        config={"base_url": base_url, "model": model},
        source_job=job,
        is_active=active,
    )


def _split(eids, *, seed, test=slice(0, 4), leak: bool = False):
    test_ids = eids[test]
    rest = [e for e in eids if e not in test_ids]
    val = rest[seed * 3 : seed * 3 + 3]
    train = [e for e in rest if e not in val] + (test_ids[:1] if leak else [])
    return {"train": train, "validation": val, "test": test_ids, "seed": seed, "test_seed": 42}


def _stub(world, wrong_for: dict[str, set[str]]):
    """Perfect answers, except that model m answers all zeros for the transcripts of the ids in wrong_for[m]."""
    texts = {score_messages(r)[1]["content"]: (eid, list(r.items)) for eid, r in world["by_eid"].items()}
    asked: list[tuple[str, str]] = []

    def answer(body):
        eid, items = texts[body["messages"][1]["content"]]
        asked.append((body["model"], eid))
        return format_scores([0] * 20 if eid in wrong_for.get(body["model"], set()) else items)

    return answer, asked


def _run(*args) -> dict:
    from io import StringIO

    out = StringIO()
    call_command("evaluate_scorer", "--backend", "llm", "--json", *args, stdout=out, stderr=StringIO())
    return json.loads(out.getvalue())["results"][0]


def test_each_seed_adapter_is_scored_only_on_its_own_held_out_dialogues(world, tmp_path):
    eids = world["eids"]
    answer, asked = _stub(world, {"scorer-b": {eids[0]}})
    with OpenAIStub(answer) as stub:
        a = _version(stub.base_url, "scorer-a", _split(eids, seed=0), active=True)
        b = _version(stub.base_url, "scorer-b", _split(eids, seed=1))
        result = _run("--report", str(tmp_path / "r.md"))  # the active adapter and its other seed
    assert result["llm"]["versions"] == [a.pk, b.pk] and result["seeds"] == [0, 1]
    assert result["test_size"] == 4 and result["test_seed"] == 42
    assert {eid for _m, eid in asked} == set(eids[:4])  # nothing outside the held-out split was scored
    assert result["llm"]["seed_runs"] == 2 and result["llm"]["decoding"] == "greedy"
    accs = [run["average"]["acc"] for run in result["runs"]]
    assert accs[0] == pytest.approx(100.0) and accs[1] < 100.0  # two real runs, not one run copied
    assert result["average"]["acc"]["std"] > 0


def test_an_adapter_is_never_evaluated_on_dialogues_it_saw(world):
    answer, _asked = _stub(world, {})
    with OpenAIStub(answer) as stub:
        leaky = _version(stub.base_url, "scorer-a", _split(world["eids"], seed=0, leak=True))
        with pytest.raises(CommandError) as err:
            _run("--model-version", str(leaky.pk))
    assert ERR_LEAK.format(id=leaky.pk, count=1) in str(err.value)


def test_another_test_seed_or_an_unknown_split_or_missing_dialogues_are_refused(world):
    answer, asked = _stub(world, {})
    with OpenAIStub(answer) as stub:
        ok = _version(stub.base_url, "scorer-a", _split(world["eids"], seed=0))
        with pytest.raises(CommandError) as err:
            _run("--model-version", str(ok.pk), "--test-seed", "0")
        assert ERR_TEST_SEED.format(id=ok.pk, trained=42, asked=0) in str(err.value)
        old = _version(stub.base_url, "scorer-old", None)
        with pytest.raises(CommandError) as err:
            _run("--model-version", str(old.pk))
        assert ERR_NO_SPLIT.format(id=old.pk) in str(err.value)
        split = _split(world["eids"], seed=0)
        split["test"] = [*split["test"], "999999"]  # a held-out dialogue that is not in the database
        gone = _version(stub.base_url, "scorer-gone", split)
        with pytest.raises(CommandError) as err:
            _run("--model-version", str(gone.pk))
        assert ERR_MISSING.format(missing=1, total=5, id=gone.pk) in str(err.value)
    assert asked == []  # every refusal comes before any scoring
