"""Baselines that read no text, computed on the same test set as the model they accompany.

* ``majority``: per item, the most frequent value of the training split (ties: the lower value).
* ``rater_mean``: per item, the client's (the rater's) mean rating in the training split, rounded;
  a test client with no training session falls back to the majority value of that item.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from feedback.items import ITEM_MAX, ITEM_MIN

from .metrics import item_metrics

RATER_FALLBACK = "majority"  # what an unseen rater gets: the per-item training majority


def majority_values(y_train: np.ndarray) -> np.ndarray:
    """Per item (column), the most frequent value; ties go to the lower value."""
    y = np.asarray(y_train, dtype=int)
    counts = np.stack([np.bincount(y[:, j] - ITEM_MIN, minlength=ITEM_MAX - ITEM_MIN + 1) for j in range(y.shape[1])])
    return counts.argmax(axis=1) + ITEM_MIN


def rater_mean_predictions(
    y_train: np.ndarray, train_raters: list[str], test_raters: list[str]
) -> tuple[np.ndarray, float]:
    """(predictions for the test sessions, share of test sessions whose rater was seen in training)."""
    y = np.asarray(y_train, dtype=float)
    rows: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(train_raters):
        if key:
            rows[key].append(i)
    fallback = majority_values(y_train)
    preds, seen = [], 0
    for key in test_raters:
        if key and key in rows:
            seen += 1
            mean = y[rows[key]].mean(axis=0)
            # Round half up (np.rint would send 2.5 to 2 and 3.5 to 4).
            preds.append(np.clip(np.floor(mean + 0.5), ITEM_MIN, ITEM_MAX).astype(int))
        else:
            preds.append(fallback)
    return np.array(preds, dtype=int).reshape(len(test_raters), -1), seen / len(test_raters) if test_raters else 0.0


def baseline_metrics(y_train, train_raters: list[str], y_test, test_raters: list[str]) -> dict:
    """Both baselines' averaged ACC / ACC_soft / MAE and per-item figures on the given test set."""
    y_te = np.asarray(y_test, dtype=int)
    majority = np.tile(majority_values(y_train), (len(y_te), 1))
    rater, seen_share = rater_mean_predictions(y_train, train_raters, test_raters)
    return {
        "majority": item_metrics(y_te, majority),
        "rater_mean": {**item_metrics(y_te, rater), "seen_rater_share": seen_share, "fallback": RATER_FALLBACK},
    }
