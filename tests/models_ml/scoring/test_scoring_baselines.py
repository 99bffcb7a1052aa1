import numpy as np
import pytest

from models_ml.scoring.baselines import baseline_metrics, majority_values, rater_mean_predictions


def test_majority_is_the_most_frequent_training_value_per_item_ties_to_the_lower():
    y = np.array([[3, 1], [3, 2], [4, 2], [4, 1]])
    # item 1: 3 and 4 twice each -> 3; item 2: 1 and 2 twice each -> 1
    assert majority_values(y).tolist() == [3, 1]
    assert majority_values(np.array([[5, 0], [5, 0], [2, 0]])).tolist() == [5, 0]


def test_rater_mean_uses_the_raters_training_mean_and_the_majority_for_an_unseen_rater():
    y_train = np.array([[4, 0], [5, 1], [2, 2], [2, 2], [2, 5]])
    train_raters = ["a", "a", "b", "b", "b"]
    pred, seen = rater_mean_predictions(y_train, train_raters, ["a", "c", "b"])
    # a: means 4.5 -> 5 (half up), 0.5 -> 1; c unseen -> majority (2, 2); b: 2, 3
    assert pred.tolist() == [[5, 1], [2, 2], [2, 3]]
    assert seen == pytest.approx(2 / 3)


def test_baselines_are_scored_on_the_given_test_set_by_hand():
    y_train = np.array([[4, 0], [5, 1], [2, 2], [2, 2], [2, 5]])
    train_raters = ["a", "a", "b", "b", "b"]
    y_test = np.array([[5, 0], [2, 4], [1, 3]])
    out = baseline_metrics(y_train, train_raters, y_test, ["a", "c", "b"])
    # majority (2, 2): item 1 errors 3, 0, 1 -> exact 1/3, soft 2/3, MAE 4/3; item 2 errors 2, 2, 1 -> 0, 1/3, 5/3
    maj = out["majority"]["average"]
    assert maj["acc"] == pytest.approx((100 / 3 + 0) / 2)
    assert maj["acc_soft"] == pytest.approx((200 / 3 + 100 / 3) / 2)
    assert maj["mae"] == pytest.approx((4 / 3 + 5 / 3) / 2)
    # rater mean: (5, 1), (2, 2), (2, 3): item 1 errors 0, 0, 1; item 2 errors 1, 2, 0
    rm = out["rater_mean"]
    assert rm["average"]["acc"] == pytest.approx((200 / 3 + 100 / 3) / 2)
    assert rm["average"]["acc_soft"] == pytest.approx((100 + 200 / 3) / 2)
    assert rm["average"]["mae"] == pytest.approx((1 / 3 + 1) / 2)
    assert rm["fallback"] == "majority" and rm["seen_rater_share"] == pytest.approx(2 / 3)
