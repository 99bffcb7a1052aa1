import json

import numpy as np
import pytest

from models_ml.scoring.artifacts import load_model, save_model, sha256_of
from models_ml.scoring.backends import CpuScorer
from models_ml.scoring.base import (
    ERR_MODEL_CHECKSUM,
    ERR_MODEL_FILE_MISSING,
    ERR_UNKNOWN_BACKEND,
    ScorePrediction,
    Scorer,
    ScorerError,
    get_scorer,
)
from models_ml.scoring.cpu import train_cpu_model
from models_ml.scoring.evaluation import evaluate_cpu, report_markdown, split_indices
from models_ml.scoring.metrics import item_metrics
from models_ml.scoring.records import load_folder

from .scorer_samples import sample_records


@pytest.fixture(scope="module")
def trained():
    records = sample_records(60)
    return train_cpu_model(records[:40], records[40:50]), records[50:]


def test_test_split_depends_only_on_test_seed():
    a_tr, a_va, a_te = split_indices(100, test_seed=3, seed=0)
    b_tr, b_va, b_te = split_indices(100, test_seed=3, seed=1)
    assert sorted(a_te) == sorted(b_te)
    assert sorted(a_va) != sorted(b_va)
    assert len(a_te) == 10 and len(a_va) == 10 and len(a_tr) == 80
    assert not set(a_tr) & set(a_te) and not set(a_va) & set(a_te) and not set(a_tr) & set(a_va)
    _, _, c_te = split_indices(100, test_seed=4, seed=0)
    assert sorted(c_te) != sorted(a_te)


def test_cpu_model_separates_warm_from_cold_sessions(trained):
    model, held_out = trained
    pred = model.predict_items(held_out)
    truth = np.array([r.items for r in held_out])
    warm = np.array([i % 2 == 0 for i in range(len(held_out))])
    assert pred[warm].mean() > pred[~warm].mean() + 1.5
    assert item_metrics(truth, pred)["average"]["mae"] < 1.0


def test_cpu_prediction_has_twenty_items_in_range_and_the_score_rule_total(trained):
    model, held_out = trained
    scorer = CpuScorer(model, "cpu-test")
    result = scorer.predict(held_out[0])
    assert isinstance(scorer, Scorer)
    assert isinstance(result, ScorePrediction)
    assert len(result.items) == 20 and all(0 <= v <= 5 for v in result.items)
    flags = result.flags
    expected = 0 if flags["S1"] or flags["S2"] else (sum(result.items) // 2 if flags["S3"] else sum(result.items))
    assert result.total == expected
    assert set(result.screening) == {"S1", "S2", "S3"}
    assert result.model_version == "cpu-test"


def test_saved_model_loads_back_and_predicts_the_same(trained, tmp_path, settings):
    model, held_out = trained
    path, digest = save_model(model, version="cpu-roundtrip", manifest={"backend": "cpu"})
    manifest = json.loads((path.parent / "manifest.json").read_text())
    assert manifest["sha256"] == digest == sha256_of(path)
    again = load_model(path, sha256=digest)
    assert (again.predict_items(held_out) == model.predict_items(held_out)).all()


def test_corrupt_model_file_is_refused_with_checksum_error(trained):
    model, _ = trained
    path, digest = save_model(model, version="cpu-corrupt", manifest={})
    with path.open("ab") as fh:
        fh.write(b"garbage")
    with pytest.raises(ScorerError) as err:
        load_model(path, sha256=digest)
    assert str(err.value) == str(ERR_MODEL_CHECKSUM % {"path": path})


def test_missing_model_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "nope.joblib"
    with pytest.raises(ScorerError) as err:
        load_model(missing, sha256="0" * 64)
    assert str(err.value) == str(ERR_MODEL_FILE_MISSING % {"path": missing})


def test_unknown_backend_raises_scorer_error():
    with pytest.raises(ScorerError) as err:
        get_scorer("nonsense")
    assert str(err.value) == str(ERR_UNKNOWN_BACKEND % {"name": "nonsense"})


def test_evaluation_follows_the_protocol_and_reports_markdown():
    records = sample_records(60, seed=11)
    res = evaluate_cpu(records, test_seed=1, seeds=(0, 1))
    assert res["test_size"] == 6 and len(res["runs"]) == 2
    assert 0 <= res["average"]["acc"]["mean"] <= 100
    assert res["average"]["mae"]["mean"] < 1.0
    assert len(res["per_item"]) == 20
    assert set(res["screening"]) == {"S1", "S2", "S3", "any"}
    md = report_markdown([res])
    assert "Test seed 1" in md and "| average |" in md


def test_folder_loader_reads_the_published_format(tmp_path):
    review = {"evaluation_id": 1, "client_id": 5, "counselor_id": 9, "score": 60, "unwilling_to_continue": "x"}
    from feedback.items import ITEMS

    review.update({i.en: 3 for i in ITEMS})
    obj = {
        "dialogue": [
            {"role": "counselor", "time": "2024-01-01T10:00:00", "utterance": "こんにちは。"},
            {"role": "client", "time": "2024-01-01T10:01:00", "utterance": "よろしくお願いします。"},
        ],
        "topic": {"main_en": "Workplace Issues"},
        "review_by_client_en": review,
    }
    (tmp_path / "2.json").write_text(json.dumps(obj, ensure_ascii=False, indent=2), encoding="utf-8")
    (tmp_path / "10.json").write_text(json.dumps(obj, ensure_ascii=False, indent=2), encoding="utf-8")
    recs = load_folder(tmp_path)
    assert [r.session_key for r in recs] == ["2", "10"]
    assert recs[0].items == (3,) * 20 and recs[0].screening == (False, False, True)
    assert recs[0].client_key == "p5" and recs[0].counselor_key == "p9"
    assert recs[0].messages[1].role == "client" and recs[0].messages[1].time.minute == 1


@pytest.mark.dataset
@pytest.mark.slow
def test_published_folder_loads_with_the_papers_label_counts(kokorochat_dir):
    recs = load_folder(kokorochat_dir)
    assert len(recs) == 6589 and all(r.labelled for r in recs)
    assert np.array([r.screening for r in recs]).sum(axis=0).tolist() == [8, 4, 209]
    assert all(r.client_key.startswith("p") and r.counselor_key.startswith("p") for r in recs)
