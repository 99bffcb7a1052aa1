import numpy as np
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


def test_quadratic_kappa_matches_scikit_learn():
    from sklearn.metrics import cohen_kappa_score

    from models_ml.scoring.metrics import quadratic_kappa

    rng = np.random.RandomState(0)
    for _ in range(5):
        t = rng.randint(0, 6, size=40)
        p = np.clip(t + rng.randint(-2, 3, size=40), 0, 5)
        expected = cohen_kappa_score(t, p, weights="quadratic", labels=list(range(6)))
        assert quadratic_kappa(t, p) == pytest.approx(expected)
    # Values absent from both sides (here 0 and 1) do not change the weights.
    t, p = [2, 3, 5, 5, 4], [2, 4, 5, 3, 4]
    assert quadratic_kappa(t, p) == pytest.approx(cohen_kappa_score(t, p, weights="quadratic", labels=list(range(6))))


def test_spearman_matches_scipy_with_ties_and_is_none_for_a_constant_side():
    from scipy.stats import spearmanr

    from models_ml.scoring.metrics import spearman

    t, p = [1, 2, 2, 3, 5, 4, 4], [0, 2, 3, 3, 5, 5, 1]
    assert spearman(t, p) == pytest.approx(spearmanr(t, p).statistic)
    assert spearman([1, 2, 3], [4, 4, 4]) is None


def test_confusion_counts_rows_as_truth_and_columns_as_prediction():
    from models_ml.scoring.metrics import confusion, item_agreement

    m = confusion([5, 5, 4, 0], [5, 4, 4, 1])
    assert m[5][5] == 1 and m[5][4] == 1 and m[4][4] == 1 and m[0][1] == 1
    assert sum(map(sum, m)) == 4
    per_item = item_agreement([[5, 1], [4, 2]], [[5, 1], [3, 2]])
    assert per_item[0]["confusion"][4][3] == 1 and per_item[1]["spearman"] == pytest.approx(1.0)
