"""The evaluation protocol: splits (random and grouped), baselines on the same test set, the report."""

import numpy as np
import pytest

from models_ml.scoring.baselines import baseline_metrics
from models_ml.scoring.evaluation import evaluate_cpu, report_markdown, session_groups, split_indices
from models_ml.scoring.features import FeatureConfig

from .scorer_samples import sample_records


@pytest.mark.parametrize("test_seed", [0, 1, 7, 123])
@pytest.mark.parametrize("seed", [0, 3, 42])
def test_grouped_split_never_puts_a_group_in_two_splits(test_seed, seed):
    rng = np.random.RandomState(test_seed * 100 + seed)
    groups = [f"c{g}" for g in rng.randint(0, 60, size=500)]
    tr, va, te = split_indices(500, test_seed=test_seed, seed=seed, groups=groups)
    assert sorted(np.concatenate([tr, va, te]).tolist()) == list(range(500))
    in_split = [{groups[i] for i in part} for part in (tr, va, te)]
    assert not in_split[0] & in_split[1] and not in_split[0] & in_split[2] and not in_split[1] & in_split[2]
    # 8:1:1 by group
    n_groups = len(set(groups))
    assert len(in_split[2]) == len(in_split[1]) == int(n_groups * 0.1)


def test_grouped_test_split_depends_only_on_the_test_seed():
    groups = [f"c{i % 37}" for i in range(400)]
    _, va0, te0 = split_indices(400, test_seed=5, seed=0, groups=groups)
    _, va1, te1 = split_indices(400, test_seed=5, seed=1, groups=groups)
    _, _, te_other = split_indices(400, test_seed=6, seed=0, groups=groups)
    assert te0.tolist() == te1.tolist() and va0.tolist() != va1.tolist()
    assert te_other.tolist() != te0.tolist()


def test_session_groups_follow_the_rater_or_the_counselor():
    recs = sample_records(10)
    assert session_groups(recs, "random") is None
    assert session_groups(recs, "client") == [r.client_key for r in recs]
    assert session_groups(recs, "counselor") == [r.counselor_key for r in recs]
    with pytest.raises(ValueError):
        session_groups(recs, "by-topic")


@pytest.mark.parametrize("split", ["random", "client", "counselor"])
def test_evaluation_on_each_split_reports_baselines_on_its_own_test_set(split):
    records = sample_records(80, seed=5)
    res = evaluate_cpu(records, test_seed=2, seeds=(0, 1), split=split)
    groups = session_groups(records, split)
    _, _, test = split_indices(len(records), test_seed=2, seed=0, groups=groups)
    assert res["split"] == split and res["test_size"] == len(test) and res["use_ids"] is False
    # Recompute the baselines of seed 1 by hand on the same test set.
    tr, _, _ = split_indices(len(records), test_seed=2, seed=1, groups=groups)
    y = np.array([r.items for r in records])
    keys = [r.client_key for r in records]
    expected = baseline_metrics(y[tr], [keys[i] for i in tr], y[test], [keys[i] for i in test])
    assert res["runs"][1]["baselines"]["majority"]["average"] == expected["majority"]["average"]
    assert res["baselines"]["rater_mean"]["mae"]["mean"] == pytest.approx(
        np.mean([r["baselines"]["rater_mean"]["average"]["mae"] for r in res["runs"]])
    )
    if split == "client":
        assert res["baselines"]["rater_mean"]["seen_rater_share"] == 0.0
    # The paper's ± (std over the items) next to the std over seeds.
    per_run = [np.std([m["acc"] for m in r["per_item"]]) for r in res["runs"]]
    assert res["item_std"]["acc"] == pytest.approx(np.mean(per_run))
    item = res["per_item"][0]
    assert {"spearman", "qwk", "confusion"} <= set(item)
    assert sum(map(sum, item["confusion"])) == len(test) * 2


def test_report_has_baselines_both_kinds_of_plus_minus_and_confusion_tables():
    res = evaluate_cpu(sample_records(60, seed=11), test_seed=1, seeds=(0, 1), split="client")
    md = report_markdown([res])
    assert "split client" in md and "baseline majority" in md and "baseline rater_mean" in md
    assert "std over items, as the paper" in md and "std over seeds" in md
    assert md.count("rows: client's rating, columns: prediction") == 20
    assert "| Spearman | QWK |" in md


def test_text_only_evaluation_has_no_id_columns_and_with_ids_has_them():
    from models_ml.scoring.cpu import make_featurizer

    records = sample_records(40)
    names = make_featurizer(FeatureConfig()).fit(records).feature_names()
    assert not [n for n in names if "_id" in n] and any(n.startswith("client:") for n in names)
    with_ids = make_featurizer(FeatureConfig(use_ids=True)).fit(records).feature_names()
    assert "client_id_p100" in with_ids and "counselor_id_p200" in with_ids
