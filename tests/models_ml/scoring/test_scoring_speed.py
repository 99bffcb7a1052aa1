"""The training speed-ups (issue 16 item 3): the symmetric Gram through BLAS syrk, the screening flags
from the ridge's own solve (Platt-scaled), and that the old logistic screening still works."""

import numpy as np
import pytest
from scipy import sparse

from models_ml.scoring.cpu import RidgeScreening, gram, platt, train_cpu_model
from models_ml.scoring.features import FeatureConfig

from .scorer_samples import sample_records


@pytest.mark.parametrize("dense_columns", [0, 3, 50])
def test_symmetric_gram_equals_the_plain_product(dense_columns):
    x = sparse.random(30, 40, density=0.3, random_state=1, format="csr", dtype=np.float32)
    k = gram(x, x, dense_columns=dense_columns)
    expected = (x @ x.T).toarray()
    assert k.shape == (30, 30) and k.dtype == np.float32
    np.testing.assert_allclose(k, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(k, k.T)


def test_cross_gram_is_unchanged():
    a = sparse.random(7, 40, density=0.3, random_state=2, format="csr", dtype=np.float32)
    b = sparse.random(9, 40, density=0.3, random_state=3, format="csr", dtype=np.float32)
    np.testing.assert_allclose(gram(a, b, dense_columns=5), (a @ b.T).toarray(), rtol=1e-5, atol=1e-6)


def test_platt_recovers_a_known_logistic_curve():
    rng = np.random.RandomState(0)
    z = rng.randn(4000)
    y = rng.rand(4000) < 1 / (1 + np.exp(-(2.0 * z - 3.0)))
    slope, intercept = platt(z, y)
    assert slope == pytest.approx(2.0, abs=0.3) and intercept == pytest.approx(-3.0, abs=0.3)


def test_platt_stays_finite_on_separable_scores_and_falls_back_without_both_classes():
    slope, intercept = platt(np.r_[np.zeros(50), np.ones(3)], np.r_[np.zeros(50), np.ones(3)])
    assert 0 < slope < 100 and np.isfinite(intercept)
    p = RidgeScreening(np.ones(1), 0.0, slope, intercept).predict_proba(np.array([[0.0], [1.0]]))[:, 1]
    assert p[0] < 0.5 < p[1]
    assert platt(np.arange(5.0), np.zeros(5)) == (1.0, 0.0)


def test_ridge_screening_probability_is_monotone_in_the_linear_score():
    clf = RidgeScreening(np.array([1.0, -1.0]), 0.5, 3.0, -1.0)
    x = np.array([[0.0, 1.0], [0.0, 0.0], [1.0, 0.0], [1e6, 0.0]])
    p = clf.predict_proba(x)
    assert p.shape == (4, 2)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert np.all(np.diff(p[:, 1]) >= 0) and p[-1, 1] == pytest.approx(1.0)


def _flagged_records():
    # S3 ("unwilling to continue") on every cold session: the text separates it.
    records = sample_records(80, seed=5)
    for i, r in enumerate(records):
        r.screening = (False, False, i % 2 == 1)
    return records


@pytest.mark.parametrize("kind", ["ridge", "logistic"])
def test_screening_kinds_flag_the_cold_sessions(kind):
    records = _flagged_records()
    model = train_cpu_model(records[:50], records[50:65], config=FeatureConfig(screening=kind))
    held_out = records[65:]
    assert model.screening[0] is None and model.screening[1] is None  # no positive in training
    assert isinstance(model.screening[2], RidgeScreening) == (kind == "ridge")
    proba = model.screening_proba(held_out)[:, 2]
    truth = np.array([r.screening[2] for r in held_out])
    assert proba[truth].min() > proba[~truth].max()
    flags = [p["flags"]["S3"] for p in model.predict(held_out)]
    assert flags == truth.tolist()


def test_ridge_screening_does_not_change_the_item_weights():
    records = _flagged_records()
    a = train_cpu_model(records[:50], records[50:65], config=FeatureConfig(screening="ridge"))
    b = train_cpu_model(records[:50], records[50:65], config=FeatureConfig(screening="logistic"))
    np.testing.assert_allclose(a.weights, b.weights, rtol=1e-4, atol=1e-6)
    assert a.alpha == b.alpha


def test_an_unknown_screening_kind_is_refused():
    records = sample_records(30)
    with pytest.raises(ValueError, match="unknown screening"):
        train_cpu_model(records[:20], records[20:], config=FeatureConfig(screening="svm"))


def test_threaded_block_vectorising_gives_the_same_matrix(monkeypatch):
    from models_ml.scoring import features

    records = sample_records(40, seed=9)
    monkeypatch.setattr(features, "THREADED_MIN_RECORDS", 10**9)
    serial_fz = features.DialogueFeaturizer(FeatureConfig())
    serial = serial_fz.fit_transform(records)
    monkeypatch.setattr(features, "THREADED_MIN_RECORDS", 0)
    threaded_fz = features.DialogueFeaturizer(FeatureConfig())
    threaded = threaded_fz.fit_transform(records)
    assert serial.shape == threaded.shape and (serial != threaded).nnz == 0
    assert (serial_fz.transform(records[:5]) != threaded_fz.transform(records[:5])).nnz == 0
    assert threaded_fz.feature_names() == serial_fz.feature_names()
