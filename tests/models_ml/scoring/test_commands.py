import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from models_ml.scoring.base import ERR_TOO_FEW_SESSIONS
from models_ml.scoring.models import ScorerModel

from .scorer_samples import make_labelled_sessions


@pytest.mark.django_db
def test_train_scorer_with_too_few_labelled_sessions_exits_with_a_message():
    make_labelled_sessions(5)
    with pytest.raises(CommandError) as err:
        call_command("train_scorer", "--min-sessions", "20", stdout=StringIO())
    assert str(err.value) == str(ERR_TOO_FEW_SESSIONS % {"count": 5, "minimum": 20})
    assert not ScorerModel.objects.exists()


@pytest.mark.django_db
def test_train_scorer_on_the_database_records_an_active_checksummed_version(settings):
    make_labelled_sessions(30)
    out = StringIO()
    call_command("train_scorer", "--min-sessions", "20", stdout=out)
    row = ScorerModel.objects.get()
    assert row.is_active and row.backend == "cpu" and row.train_size == 27
    folder = Path(settings.KOKORO_ARTIFACTS_DIR) / row.path
    manifest = json.loads((folder.parent / "manifest.json").read_text())
    assert manifest["version"] == row.version and manifest["sha256"] == row.sha256
    assert manifest["training_size"] == 27 and "validation" in manifest["metrics"]
    assert "feature_config" in manifest and manifest["created_at"]
    assert row.version in out.getvalue()


@pytest.mark.django_db
def test_a_second_training_becomes_the_only_active_version():
    make_labelled_sessions(24)
    call_command("train_scorer", "--min-sessions", "20", stdout=StringIO())
    call_command("train_scorer", "--min-sessions", "20", stdout=StringIO())
    assert ScorerModel.objects.count() == 2
    assert ScorerModel.objects.filter(is_active=True).count() == 1
    assert ScorerModel.objects.get(is_active=True) == ScorerModel.objects.order_by("-created_at").first()


@pytest.mark.django_db
def test_evaluate_scorer_prints_json_and_writes_the_report(tmp_path):
    make_labelled_sessions(40)
    out = StringIO()
    report = tmp_path / "eval.md"
    call_command(
        "evaluate_scorer",
        "--json",
        "--test-seed",
        "2",
        "--seeds",
        "0,1",
        "--report",
        str(report),
        stdout=out,
        stderr=StringIO(),
    )
    data = json.loads(out.getvalue())
    res = data["results"][0]
    assert res["test_seed"] == 2 and res["seeds"] == [0, 1] and res["test_size"] == 4
    assert set(res["average"]) == {"acc", "acc_soft", "mae"}
    assert len(res["per_item"]) == 20
    assert "precision" in res["screening"]["S3"]
    assert report.read_text().startswith("# Auto-scorer evaluation")


def test_commands_reject_a_missing_folder(tmp_path):
    with pytest.raises(CommandError):
        call_command("train_scorer", "--from-folder", str(tmp_path / "missing"), stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("evaluate_scorer", "--from-folder", str(tmp_path / "missing"), stdout=StringIO())


@pytest.mark.django_db
def test_evaluate_scorer_with_too_few_sessions_exits_non_zero():
    make_labelled_sessions(4)
    with pytest.raises(CommandError):
        call_command("evaluate_scorer", stdout=StringIO())


@pytest.mark.django_db
def test_train_scorer_is_text_only_by_default_and_ids_are_an_explicit_research_option(settings):
    from models_ml.scoring.artifacts import load_model

    make_labelled_sessions(24)
    out = StringIO()
    call_command("train_scorer", "--min-sessions", "20", stdout=out)
    row = ScorerModel.objects.get(is_active=True)
    assert row.feature_config["use_ids"] is False and "text only" in out.getvalue()
    names = load_model(Path(settings.KOKORO_ARTIFACTS_DIR) / row.path, sha256=row.sha256).featurizer.feature_names()
    assert names and not [n for n in names if n.startswith(("client_id", "counselor_id"))]
    call_command("train_scorer", "--min-sessions", "20", "--with-ids", "--no-activate", stdout=StringIO())
    research = ScorerModel.objects.get(is_active=False)
    assert research.feature_config["use_ids"] is True
    names = load_model(
        Path(settings.KOKORO_ARTIFACTS_DIR) / research.path, sha256=research.sha256
    ).featurizer.feature_names()
    assert [n for n in names if n.startswith("client_id")] and [n for n in names if n.startswith("counselor_id")]


@pytest.mark.django_db
def test_train_scorer_with_evaluation_stores_both_splits_and_baselines_on_the_version(settings):
    make_labelled_sessions(40)
    out = StringIO()
    call_command("train_scorer", "--min-sessions", "20", "--evaluate", "--eval-seeds", "0,1", stdout=out)
    row = ScorerModel.objects.get()
    evaluations = row.metrics["evaluation"]
    assert [e["split"] for e in evaluations] == ["random", "client"]
    for e in evaluations:
        assert e["seeds"] == [0, 1] and e["test_seed"] == 0 and e["use_ids"] is False
        assert set(e["baselines"]) == {"majority", "rater_mean"} and 0 <= e["model"]["acc"] <= 100
    assert evaluations[1]["seen_rater_share"] == 0.0  # grouped by the rater: no test rater in training
    manifest = json.loads(((Path(settings.KOKORO_ARTIFACTS_DIR) / row.path).parent / "manifest.json").read_text())
    assert manifest["metrics"]["evaluation"] == evaluations
    assert "client split (test seed 0, seeds [0, 1])" in out.getvalue()


@pytest.mark.django_db
def test_evaluate_scorer_on_the_client_split_without_ids(tmp_path):
    make_labelled_sessions(40)
    out = StringIO()
    call_command(
        "evaluate_scorer",
        "--json",
        "--seeds",
        "0,1",
        "--test-seed",
        "3",
        "--split",
        "client",
        "--no-ids",
        "--report",
        str(tmp_path / "r.md"),
        stdout=out,
        stderr=StringIO(),
    )
    res = json.loads(out.getvalue())["results"][0]
    assert res["split"] == "client" and res["use_ids"] is False and res["test_seed"] == 3
    assert set(res["baselines"]) == {"majority", "rater_mean"}
    assert set(res["baselines"]["majority"]) >= {"acc", "acc_soft", "mae"}
    assert res["item_std"]["acc"] >= 0 and "qwk" in res["per_item"][0]
    assert "split client" in (tmp_path / "r.md").read_text()


def test_evaluate_scorer_refuses_contradictory_id_options():
    with pytest.raises(CommandError):
        call_command("evaluate_scorer", "--no-ids", "--with-ids", stdout=StringIO())
