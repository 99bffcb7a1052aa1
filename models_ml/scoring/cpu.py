"""The CPU scorer: char n-gram TF-IDF per role + dialogue statistics (+ participant ids for
research) → multi-output ridge regression (solved in the dual, all 20 items at once), plain
rounding (or per-item offsets / ordinal cut points tuned on the validation split); the three
screening flags from the same factorisation (``screening="ridge"``: extra right-hand sides,
Platt-scaled) or, as the first version, one liblinear logistic classifier each (``"logistic"``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy import linalg, sparse
from scipy.linalg import blas
from sklearn.linear_model import LogisticRegression

from feedback.items import ITEM_MAX, ITEM_MIN, SCREENINGS, compute_total

from .features import DialogueFeaturizer, FeatureConfig
from .metrics import item_metrics
from .records import LabelledDialogue

ALPHAS = (3.0, 10.0)  # 1.0 was never chosen on validation on the published data (docs/benchmarks.md)
DECODINGS = ("round", "offsets", "cuts")
OFFSETS = np.round(np.arange(-0.5, 0.501, 0.05), 3)
SCREENING_MIN_POSITIVES = 2  # fewer positives in training: the flag's classifier is not trained


@dataclass
class CpuModel:
    featurizer: DialogueFeaturizer
    weights: np.ndarray  # (features, 20)
    bias: np.ndarray  # (20,)
    offsets: np.ndarray  # (20,) added before rounding
    alpha: float
    screening: list  # per flag: LogisticRegression | None
    thresholds: list[float]  # per flag
    info: dict = field(default_factory=dict)
    cuts: np.ndarray | None = None  # (20, 5) ordinal cut points; None: rounding with offsets

    def regress(self, records: list[LabelledDialogue]) -> np.ndarray:
        x = self.featurizer.transform(records)
        return np.asarray(x @ self.weights) + self.bias

    def to_items(self, raw: np.ndarray) -> np.ndarray:
        return cut_items(raw, self.cuts) if getattr(self, "cuts", None) is not None else round_items(raw, self.offsets)

    def predict_items(self, records: list[LabelledDialogue]) -> np.ndarray:
        return self.to_items(self.regress(records))

    def screening_proba_matrix(self, x) -> np.ndarray:
        """(sessions, 3) probabilities from a feature matrix; 0 for a flag without a classifier."""
        n = x.shape[0]
        return np.column_stack(
            [clf.predict_proba(x)[:, 1] if clf is not None else np.zeros(n) for clf in self.screening]
        )

    def screening_proba(self, records: list[LabelledDialogue]) -> np.ndarray:
        return self.screening_proba_matrix(self.featurizer.transform(records))

    def predict(self, records: list[LabelledDialogue]) -> list[dict]:
        x = self.featurizer.transform(records)
        items = self.to_items(np.asarray(x @ self.weights) + self.bias)
        probs = self.screening_proba_matrix(x)
        out = []
        for row, p in zip(items, probs, strict=True):
            flags = [bool(p[k] >= self.thresholds[k]) for k in range(len(SCREENINGS))]
            out.append(
                {
                    "items": [int(v) for v in row],
                    "screening": {s.code: float(p[k]) for k, s in enumerate(SCREENINGS)},
                    "flags": {s.code: flags[k] for k, s in enumerate(SCREENINGS)},
                    "total": compute_total([int(v) for v in row], s1=flags[0], s2=flags[1], s3=flags[2]),
                }
            )
        return out


def round_items(raw: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(raw + offsets), ITEM_MIN, ITEM_MAX).astype(int)


def cut_items(raw: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Per item, the number of (sorted) cut points the raw score passes: 0..5."""
    return (raw[:, :, None] >= cuts[None, :, :]).sum(axis=2).astype(int) + ITEM_MIN


def make_featurizer(config: FeatureConfig | None) -> DialogueFeaturizer:
    return DialogueFeaturizer(config or FeatureConfig())


class RidgeScreening:
    """One screening flag from the ridge's own solution: a linear score ``x·w + b`` (the same
    dual factorisation as the 20 items, one more right-hand side), mapped to a probability by a
    logistic curve fitted on held-out scores (Platt scaling). ``predict_proba`` has the shape of
    scikit-learn's, so a model file may hold either kind."""

    def __init__(self, weights: np.ndarray, bias: float, slope: float, intercept: float) -> None:
        self.weights = np.asarray(weights, dtype=np.float32).ravel()
        self.bias, self.slope, self.intercept = float(bias), float(slope), float(intercept)

    def decision_function(self, x) -> np.ndarray:
        return np.asarray(x @ self.weights, dtype=np.float64).ravel() + self.bias

    def predict_proba(self, x) -> np.ndarray:
        z = np.clip(self.slope * self.decision_function(x) + self.intercept, -50.0, 50.0)
        p = 1.0 / (1.0 + np.exp(-z))
        return np.column_stack([1.0 - p, p])


def platt(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Slope and intercept of a logistic curve fitted to 1-D scores (Platt scaling; the scores are
    standardised and the fit L2-regularised, so separable scores give a finite, steep curve)."""
    z, y = np.asarray(scores, dtype=np.float64).ravel(), np.asarray(labels).astype(bool).ravel()
    if not len(z) or y.all() or not y.any():
        return 1.0, 0.0
    centre, scale = float(z.mean()), float(z.std()) or 1.0
    fit = LogisticRegression(C=1.0).fit(((z - centre) / scale)[:, None], y)
    slope = float(fit.coef_[0, 0]) / scale
    return slope, float(fit.intercept_[0]) - slope * centre


def _dual_ridge(k_train: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    """Dual coefficients A = (K + alpha I)^-1 Y (single precision for a dense K: half the time)."""
    k = k_train + alpha * np.eye(k_train.shape[0], dtype=k_train.dtype)
    factor = linalg.cho_factor(k, lower=True, check_finite=False, overwrite_a=True)
    return linalg.cho_solve(factor, y.astype(k.dtype), check_finite=False).astype(np.float64)


def _tune_offsets(raw: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per item, the offset maximising ACC/100 - MAE on the validation split (both metrics matter)."""
    best = np.zeros(y.shape[1])
    for j in range(y.shape[1]):
        scores = []
        for o in OFFSETS:
            p = np.clip(np.rint(raw[:, j] + o), ITEM_MIN, ITEM_MAX)
            scores.append(np.mean(p == y[:, j]) - np.mean(np.abs(p - y[:, j])))
        best[j] = OFFSETS[int(np.argmax(scores))]
    return best


CUT_STEPS = np.round(np.arange(-0.3, 0.301, 0.025), 3)  # each cut moves at most 0.3 from its rounding start


def _objective(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(pred == y) - np.mean(np.abs(pred - y)))


def _tune_cuts(raw: np.ndarray, y: np.ndarray, offsets: np.ndarray, *, passes: int = 2) -> np.ndarray:
    """Per item, five ordinal cut points (start: rounding with the item's offset), moved one at a time
    on validation to maximise ACC/100 - MAE, each within ±0.3 of its start and kept in order."""
    n_cuts = ITEM_MAX - ITEM_MIN
    cuts = np.array([[k + 0.5 - o for k in range(ITEM_MIN, ITEM_MAX)] for o in offsets])
    for j in range(y.shape[1]):
        start = cuts[j].copy()
        for _ in range(passes):
            for k in range(n_cuts):
                lo = cuts[j, k - 1] if k else -np.inf
                hi = cuts[j, k + 1] if k + 1 < n_cuts else np.inf
                best_c, best_s = cuts[j, k], None
                for step in CUT_STEPS:
                    c = start[k] + step
                    if not lo <= c <= hi:
                        continue
                    trial = cuts[j].copy()
                    trial[k] = c
                    score = _objective((raw[:, j, None] >= trial).sum(axis=1) + ITEM_MIN, y[:, j])
                    if best_s is None or score > best_s + 1e-12:
                        best_c, best_s = c, score
                cuts[j, k] = best_c
    return cuts


SCREENING_KINDS = ("ridge", "logistic")
SCREENING_DEFAULT_THRESHOLD = 0.5
SCREENING_MIN_VAL_POSITIVES = 3  # fewer on validation: too few to tune, keep the default


def _best_threshold(prob: np.ndarray, y: np.ndarray) -> float:
    """Threshold maximising F1 on validation (never below 0.05)."""
    if y.sum() < SCREENING_MIN_VAL_POSITIVES:
        return SCREENING_DEFAULT_THRESHOLD
    best_t, best_f = SCREENING_DEFAULT_THRESHOLD, -1.0
    for t in np.unique(np.round(prob[prob >= 0.05], 4)):
        pred = prob >= t
        tp = np.sum(pred & y)
        f = 2 * tp / (pred.sum() + y.sum()) if pred.sum() + y.sum() else 0.0
        if f > best_f:
            best_t, best_f = float(t), f
    return best_t


def _ridge_screening(weights, bias, dual, k_va, alpha, y_tr, y_va) -> RidgeScreening:
    """Platt scaling on the validation scores when validation has enough positives; otherwise on
    the training scores (K·A = Y − alpha·A for the dual solution A: no extra product)."""
    if y_va.sum() >= SCREENING_MIN_VAL_POSITIVES:
        scores, labels = k_va @ dual + bias, y_va
    else:
        scores, labels = y_tr - alpha * dual, y_tr
    slope, intercept = platt(scores, labels)
    return RidgeScreening(weights, bias, slope, intercept)


def train_cpu_model(
    train: list[LabelledDialogue],
    val: list[LabelledDialogue],
    *,
    config: FeatureConfig | None = None,
    alphas: tuple[float, ...] = ALPHAS,
    log=None,
) -> CpuModel:
    """Fit on ``train``; choose alpha, rounding offsets and screening thresholds on ``val``."""
    t0 = time.monotonic()
    fz = make_featurizer(config)
    x_tr, x_va = fz.fit_transform(train), fz.transform(val)
    if log:
        log(f"features: {x_tr.shape[1]} columns ({time.monotonic() - t0:.1f}s)")
    k_tr = gram(x_tr, x_tr)
    k_va = gram(x_va, x_tr)
    model = fit_from_matrices(fz, x_tr, k_tr, k_va, x_va, train, val, alphas=alphas, log=log)
    model.info["fit_seconds"] = round(time.monotonic() - t0, 1)
    return model


GRAM_DENSE_COLUMNS = 12000  # the most frequent columns go through BLAS, the long tail through a sparse product


def gram(a, b, *, dense_columns: int = GRAM_DENSE_COLUMNS) -> np.ndarray:
    """K = A B^T (single precision). A sparse product costs the sum over columns of (column count)²,
    which the frequent character n-grams make huge; those columns are multiplied densely (BLAS) and
    only the long tail sparsely: the same K, several times faster."""
    symmetric = a is b  # K = A A^T: BLAS syrk computes one triangle, half the work
    if not sparse.issparse(a):
        return np.asarray(a @ b.T, dtype=np.float32)
    a = sparse.csc_matrix(a, dtype=np.float32)
    b = a if symmetric else sparse.csc_matrix(b, dtype=np.float32)
    counts = np.diff(b.indptr) + np.diff(a.indptr)
    order = np.argsort(-counts, kind="stable")
    head, tail = np.sort(order[:dense_columns]), np.sort(order[dense_columns:])
    a_head = a[:, head].toarray()
    if symmetric:
        k = _syrk(a_head)
    else:
        k = a_head @ b[:, head].toarray().T
    del a_head
    if len(tail):
        k += (a[:, tail].tocsr() @ b[:, tail].tocsr().T).toarray()
    return k


def _syrk(dense: np.ndarray) -> np.ndarray:
    """dense @ dense.T (float32) through BLAS ``ssyrk`` (lower triangle), mirrored to a full matrix."""
    if not dense.size:
        return np.zeros((dense.shape[0], dense.shape[0]), dtype=np.float32)
    # A C-ordered (n, m) array is the Fortran-ordered (m, n) transpose: trans=1 gives A A^T.
    k = blas.ssyrk(1.0, np.ascontiguousarray(dense, dtype=np.float32).T, trans=1, lower=1)
    # ssyrk leaves the upper triangle at zero: add the strict lower one, transposed (one temporary).
    k += np.tril(k, -1).T
    return k.T if k.flags.f_contiguous else k  # symmetric: the transpose of a Fortran array is C-ordered, no copy


def fit_from_matrices(
    fz: DialogueFeaturizer,
    x_tr: sparse.csr_matrix,
    k_tr: np.ndarray,
    k_va: np.ndarray,
    x_va: sparse.csr_matrix,
    train: list[LabelledDialogue],
    val: list[LabelledDialogue],
    *,
    alphas: tuple[float, ...] = ALPHAS,
    log=None,
) -> CpuModel:
    """The label-using part of training (features already computed; K = X X^T blocks given)."""
    y_tr = np.array([r.items for r in train], dtype=float)
    y_va = np.array([r.items for r in val], dtype=int)
    s_tr = np.array([r.screening for r in train], dtype=bool).reshape(len(train), -1)
    s_va = np.array([r.screening for r in val], dtype=bool).reshape(len(val), -1)
    screening_kind = getattr(fz.config, "screening", "logistic")
    if screening_kind not in SCREENING_KINDS:
        raise ValueError(f"unknown screening {screening_kind!r}: one of {', '.join(SCREENING_KINDS)}")
    # With ridge screening the three flags are three more right-hand sides of the same solve.
    targets = np.hstack([y_tr, s_tr.astype(float)]) if screening_kind == "ridge" else y_tr
    bias_all = targets.mean(axis=0)
    n_items = y_tr.shape[1]
    best = None
    for a in alphas:
        dual = _dual_ridge(k_tr, targets - bias_all, a)
        raw = k_va @ dual[:, :n_items] + bias_all[:n_items]
        mae = float(np.mean(np.abs(round_items(raw, np.zeros(raw.shape[1])) - y_va)))
        if log:
            log(f"alpha {a}: validation MAE {mae:.4f}")
        if best is None or mae < best[0]:
            best = (mae, a, dual, raw)
    _, alpha, dual_all, raw_va = best
    bias = bias_all[:n_items]
    all_weights = np.asarray(x_tr.T @ dual_all, dtype=np.float32)
    weights = np.ascontiguousarray(all_weights[:, :n_items])
    decoding = getattr(fz.config, "decoding", "offsets")
    if decoding not in DECODINGS:
        raise ValueError(f"unknown decoding {decoding!r}: one of {', '.join(DECODINGS)}")
    offsets = np.zeros(y_va.shape[1]) if decoding == "round" else _tune_offsets(raw_va, y_va)
    cuts = _tune_cuts(raw_va, y_va, offsets) if decoding == "cuts" else None
    classifiers, thresholds = [], []
    for k in range(len(SCREENINGS)):
        if s_tr[:, k].sum() < SCREENING_MIN_POSITIVES:
            classifiers.append(None)
            thresholds.append(1.0)
            continue
        if screening_kind == "ridge":
            j = n_items + k
            clf = _ridge_screening(all_weights[:, j], bias_all[j], dual_all[:, j], k_va, alpha, s_tr[:, k], s_va[:, k])
        else:
            clf = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000, solver="liblinear")
            clf.fit(x_tr, s_tr[:, k])
        classifiers.append(clf)
        thresholds.append(_best_threshold(clf.predict_proba(x_va)[:, 1], s_va[:, k]))
    model = CpuModel(fz, weights, bias, offsets, alpha, classifiers, thresholds, cuts=cuts)
    model.info = {
        "train_size": len(train),
        "validation_size": len(val),
        "alpha": alpha,
        "offsets": [float(o) for o in offsets],
        "screening_thresholds": [float(t) for t in thresholds],
        "cuts": cuts.round(4).tolist() if cuts is not None else None,
        "validation": item_metrics(y_va, model.to_items(raw_va))["average"],
    }
    return model
