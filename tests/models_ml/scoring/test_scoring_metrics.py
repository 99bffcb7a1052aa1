import pytest

from models_ml.scoring.metrics import accuracy, accuracy_soft, item_metrics, mae, precision_recall


def test_accuracy_counts_exact_matches_as_percent():
    assert accuracy([3, 4, 5, 0], [3, 3, 5, 1]) == pytest.approx(50.0)


def test_accuracy_soft_accepts_a_difference_of_one():
    # differences 0, 1, 2, 1 -> three of four within ±1
    assert accuracy_soft([3, 4, 5, 0], [3, 3, 3, 1]) == pytest.approx(75.0)


def test_mae_is_mean_absolute_difference_of_integers():
    # |3-3| + |4-2| + |5-0| + |0-1| = 8, over 4
    assert mae([3, 4, 5, 0], [3, 2, 0, 1]) == pytest.approx(2.0)


def test_item_metrics_average_over_items_like_table_8():
    truth = [[1, 5], [2, 5], [3, 5]]
    pred = [[1, 3], [3, 5], [0, 4]]
    m = item_metrics(truth, pred)
    # item 1: exact 1/3, soft 2/3, mae (0+1+3)/3; item 2: exact 1/3, soft 2/3, mae (2+0+1)/3
    assert m["per_item"][0]["acc"] == pytest.approx(100 / 3)
    assert m["per_item"][0]["acc_soft"] == pytest.approx(200 / 3)
    assert m["per_item"][0]["mae"] == pytest.approx(4 / 3)
    assert m["per_item"][1]["mae"] == pytest.approx(1.0)
    assert m["average"]["acc"] == pytest.approx(100 / 3)
    assert m["average"]["mae"] == pytest.approx((4 / 3 + 1.0) / 2)


def test_metrics_reject_mismatched_shapes_and_empty_input():
    with pytest.raises(ValueError):
        accuracy([1, 2], [1])
    with pytest.raises(ValueError):
        mae([], [])


def test_precision_recall_on_a_hand_computed_case():
    r = precision_recall([1, 1, 0, 0, 1], [1, 0, 1, 0, 1])
    assert (r["tp"], r["fp"], r["fn"]) == (2, 1, 1)
    assert r["precision"] == pytest.approx(2 / 3)
    assert r["recall"] == pytest.approx(2 / 3)


def test_precision_is_undefined_without_positive_predictions():
    r = precision_recall([1, 0], [0, 0])
    assert r["precision"] is None
    assert r["recall"] == 0.0
