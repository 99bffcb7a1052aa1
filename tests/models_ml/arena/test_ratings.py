"""Order-free arena ratings: Bradley-Terry MLE, bootstrap intervals, both-order collapsing, agreement."""

import math
import random

import pytest

from models_ml.arena import metrics, ratings
from models_ml.arena.metrics import Battle


def _record(seed: int = 0) -> list[Battle]:
    """300 battles where A wins 60 % against B, plus a third model with ties and a few wins."""
    battles = [Battle("A", "B", "a")] * 180 + [Battle("A", "B", "b")] * 120
    battles += [Battle("C", "A", "tie")] * 10 + [Battle("C", "B", "a")] * 6 + [Battle("B", "C", "a")] * 3
    return battles


def test_ratings_and_intervals_are_identical_for_any_order_of_the_same_battles():
    battles = _record()
    reference = ratings.bradley_terry(battles)
    intervals = ratings.bootstrap_intervals(battles, rounds=200)
    orders = [sorted(battles, key=lambda b: b.winner), sorted(battles, key=lambda b: b.winner, reverse=True)]
    for seed in range(3):
        shuffled = list(battles)
        random.Random(seed).shuffle(shuffled)
        orders.append(shuffled)
    for order in orders:
        assert ratings.bradley_terry(order) == reference
        assert ratings.bootstrap_intervals(order, rounds=200) == intervals
    # the online Elo this replaces does depend on the order (the audit's 686 / 1314 vs 1355 / 645)
    wins_first = metrics.online_elo(orders[0])
    wins_last = metrics.online_elo(orders[1])
    assert wins_first["A"] < 1000 < wins_last["A"]


def test_a_60_percent_record_gives_the_maximum_likelihood_gap():
    battles = [Battle("A", "B", "a")] * 180 + [Battle("A", "B", "b")] * 120
    r = ratings.bradley_terry(battles, l2=0)
    # P(A beats B) = 0.6 -> gap = 400 * log10(0.6 / 0.4)
    assert r["A"] - r["B"] == pytest.approx(400 * math.log10(1.5), abs=0.01)
    assert (r["A"] + r["B"]) / 2 == pytest.approx(1000)
    # the default ridge (scikit-learn's C = 1, as in the Chatbot Arena notebook) barely moves 300 battles
    assert ratings.bradley_terry(battles)["A"] - ratings.bradley_terry(battles)["B"] == pytest.approx(70.4, abs=0.5)


def test_a_tie_counts_as_half_a_win_for_each_side():
    ties = ratings.bradley_terry([Battle("x", "y", "tie")] * 10, l2=0)
    assert ties["x"] == pytest.approx(ties["y"]) == pytest.approx(1000)
    # 1 win + 2 ties + 1 loss = 2 of 4 -> equal; 2 wins + 2 ties = 3 of 4 -> 400 * log10(3)
    mixed = [Battle("x", "y", "a"), Battle("x", "y", "tie"), Battle("y", "x", "tie"), Battle("y", "x", "a")]
    r = ratings.bradley_terry(mixed, l2=0)
    assert r["x"] == pytest.approx(r["y"])
    skew = [Battle("x", "y", "a")] * 2 + [Battle("x", "y", "tie")] * 2
    r = ratings.bradley_terry(skew, l2=0)
    assert r["x"] - r["y"] == pytest.approx(400 * math.log10(3), abs=0.01)


def test_a_one_sided_record_stays_finite_and_the_interval_excludes_the_middle():
    battles = [Battle("x", "y", "a")] * 20
    r = ratings.bradley_terry(battles)
    assert 1000 < r["x"] < 2000 and r["x"] + r["y"] == pytest.approx(2000)
    ci = ratings.bootstrap_intervals(battles, rounds=100)
    assert ci["x"][0] <= r["x"] <= ci["x"][1]
    assert ci["x"][0] > 1000 > ci["y"][1]


def test_both_orders_of_one_pair_by_one_judge_are_one_battle():
    agree = [
        Battle("good", "plain", "a", judge="llm:j", pair_key="p1"),
        Battle("good", "plain", "a", judge="llm:j", pair_key="p1"),
    ]
    disagree = [
        Battle("good", "plain", "a", judge="llm:j", pair_key="p2"),
        Battle("good", "plain", "b", judge="llm:j", pair_key="p2"),
    ]
    other_judge = [Battle("good", "plain", "b", judge="llm:k", pair_key="p1")]
    collapsed = ratings.collapse_orders(agree + disagree + other_judge)
    assert sorted((b.judge, b.pair_key, b.winner) for b in collapsed) == [
        ("llm:j", "p1", "a"),
        ("llm:j", "p2", "tie"),
        ("llm:k", "p1", "b"),
    ]
    # a position-biased judge (always the first shown) gives only ties: no model is ahead
    biased = ratings.collapse_orders(disagree * 1)
    r = ratings.bradley_terry(biased, l2=0)
    assert r["good"] == pytest.approx(r["plain"])


def test_leaderboard_rows_are_sorted_and_count_wins_ties_losses():
    rows = ratings.leaderboard_rows(_record(), rounds=50)
    assert [r["model"] for r in rows][0] in {"A", "C"}
    assert rows == sorted(rows, key=lambda r: -r["rating"])
    b = next(r for r in rows if r["model"] == "B")
    assert (b["battles"], b["wins"], b["ties"], b["losses"]) == (309, 123, 0, 186)
    assert all(r["ci_low"] <= r["rating"] <= r["ci_high"] for r in rows)


def test_agreement_between_two_leaderboards_and_their_verdicts():
    assert ratings.rank_agreement({"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 2, "c": 3})["kendall_tau"] == 1.0
    assert ratings.rank_agreement({"a": 1, "b": 2}, {"a": 2, "b": 1})["kendall_tau"] == -1.0
    assert ratings.rank_agreement({"a": 1}, {"a": 2}) == {"models": 1, "kendall_tau": None}
    human = [Battle("x", "y", "a", judge="human:u", pair_key=k) for k in ("p1", "p2", "p3", "p4")]
    llm = [
        Battle("x", "y", w, judge="llm:j", pair_key=k) for k, w in zip(("p1", "p2", "p3", "p9"), "aabb", strict=True)
    ]
    result = ratings.verdict_agreement(human, llm)
    assert result["pairs"] == 3 and result["agreement"] == pytest.approx(2 / 3, abs=1e-3)
    assert ratings.verdict_agreement(human, []) == {"pairs": 0, "agreement": None, "kappa": None}
