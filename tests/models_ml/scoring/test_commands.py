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
