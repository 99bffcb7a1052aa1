"""Score-task model selection by validation prediction accuracy (the KokoroChat paper's epoch choice), and the
held-out split ids a score job keeps."""

import pytest

from models_ml.llm.config import SELECT_PRED_ACC, TrainingConfig
from models_ml.llm.data import format_scores
from models_ml.llm.selection import prediction_accuracy
from models_ml.llm.training import STATUS_COMPLETED, train

from .conftest import make_record, tiny_job


def test_prediction_accuracy_counts_items_and_unreadable_answers_as_wrong():
    gold = [[1] * 20, [2] * 20]
    answers = [format_scores([1] * 10 + [0] * 10), "読めない答え"]
    assert prediction_accuracy(answers, gold) == {"acc": pytest.approx(25.0), "parsed": 50.0}
    assert prediction_accuracy([format_scores([2] * 20)], [[2] * 20])["acc"] == 100.0


def test_the_score_task_selects_by_prediction_accuracy_with_a_length_budget_for_the_paper_setting():
    cfg = TrainingConfig.for_task("score")
    assert cfg.selection_metric == SELECT_PRED_ACC and cfg.max_length == 8192
    assert TrainingConfig.for_task("response").selection_metric == "loss"
    with pytest.raises(ValueError, match="selection_metric"):
        TrainingConfig.for_task("response", selection_metric="pred_acc").validate()


def test_a_score_job_decodes_the_validation_dialogues_each_epoch_and_keeps_its_split(tiny_base_model, tmp_path):
    records = [make_record(i, 50 + i * 3) for i in range(10)]
    job = tiny_job(
        tiny_base_model,
        task="score",
        max_steps=-1,
        num_train_epochs=2,
        per_device_train_batch_size=4,
        max_length=1024,
        selection_new_tokens=8,
    )
    result = train(job, records, tmp_path)
    assert result.status == STATUS_COMPLETED
    selection = result.metrics["selection"]
    assert selection["metric"] == "pred_acc" and selection["validation_dialogues_decoded"] == 1
    assert [round(h["epoch"]) for h in selection["history"]] == [1, 2]  # once per epoch
    best = max(selection["history"], key=lambda h: h["pred_acc"])  # first of the best on ties
    assert selection["best_step"] == best["step"] and selection["best_pred_acc"] == best["pred_acc"]
    assert "best_eval_loss" not in result.metrics
    split = result.metrics["split_ids"]
    assert split["test"] == result.metrics["test_ids"] and len(split["test"]) == 1
    assert len(split["train"]) == 8 and len(split["validation"]) == 1
    assert not set(split["test"]) & (set(split["train"]) | set(split["validation"]))
    assert result.metrics["truncated_examples"] == 0
