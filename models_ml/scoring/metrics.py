"""The paper's metrics on integer predictions: ACC (exact), ACC_soft (within ±1), MAE."""

from __future__ import annotations

import numpy as np


def _arrays(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.shape != p.shape:
        raise ValueError(f"shape mismatch: {t.shape} vs {p.shape}")
    if t.size == 0:
        raise ValueError("no predictions to score")
    return t.astype(int), p.astype(int)


def accuracy(y_true, y_pred) -> float:
    t, p = _arrays(y_true, y_pred)
    return float(np.mean(t == p) * 100)


def accuracy_soft(y_true, y_pred) -> float:
    t, p = _arrays(y_true, y_pred)
    return float(np.mean(np.abs(t - p) <= 1) * 100)


def mae(y_true, y_pred) -> float:
    t, p = _arrays(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


def item_metrics(y_true, y_pred) -> dict:
    """Per item (columns) and averaged over items, as in the paper's Table 8 (percentages)."""
    t, p = _arrays(y_true, y_pred)
    if t.ndim != 2:
        raise ValueError("expected (sessions, items) matrices")
    per_item = [
        {"acc": accuracy(t[:, j], p[:, j]), "acc_soft": accuracy_soft(t[:, j], p[:, j]), "mae": mae(t[:, j], p[:, j])}
        for j in range(t.shape[1])
    ]
    avg = {k: float(np.mean([m[k] for m in per_item])) for k in ("acc", "acc_soft", "mae")}
    return {"average": avg, "per_item": per_item}


def precision_recall(y_true, y_pred) -> dict:
    t = np.asarray(y_true).astype(bool)
    p = np.asarray(y_pred).astype(bool)
    tp = int(np.sum(t & p))
    fp = int(np.sum(~t & p))
    fn = int(np.sum(t & ~p))
    return {
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "support": int(t.sum()),
    }


def confusion(y_true, y_pred, *, low: int = 0, high: int = 5) -> list[list[int]]:
    """Counts, rows = true value ``low..high``, columns = predicted value."""
    t, p = _arrays(y_true, y_pred)
    size = high - low + 1
    m = np.zeros((size, size), dtype=int)
    np.add.at(m, (np.clip(t, low, high) - low, np.clip(p, low, high) - low), 1)
    return m.tolist()


def quadratic_kappa(y_true, y_pred, *, low: int = 0, high: int = 5) -> float:
    """Cohen's kappa with quadratic weights (as ``sklearn.metrics.cohen_kappa_score(weights="quadratic")``);
    0.0 when both raters are constant (no variation to agree on)."""
    m = np.array(confusion(y_true, y_pred, low=low, high=high), dtype=float)
    size = m.shape[0]
    w = (np.arange(size)[:, None] - np.arange(size)[None, :]) ** 2
    expected = np.outer(m.sum(axis=1), m.sum(axis=0)) / m.sum()
    denominator = float((w * expected).sum())
    return 1.0 - float((w * m).sum()) / denominator if denominator else 0.0


def spearman(y_true, y_pred) -> float | None:
    """Spearman's rank correlation (ties averaged); None when either side is constant."""
    from scipy.stats import rankdata

    t, p = _arrays(y_true, y_pred)
    if np.all(t == t.flat[0]) or np.all(p == p.flat[0]):
        return None
    return float(np.corrcoef(rankdata(t), rankdata(p))[0, 1])


def item_agreement(y_true, y_pred) -> list[dict]:
    """Per item (columns): Spearman, quadratic-weighted kappa and the confusion table."""
    t, p = _arrays(y_true, y_pred)
    return [
        {
            "spearman": spearman(t[:, j], p[:, j]),
            "qwk": quadratic_kappa(t[:, j], p[:, j]),
            "confusion": confusion(t[:, j], p[:, j]),
        }
        for j in range(t.shape[1])
    ]
