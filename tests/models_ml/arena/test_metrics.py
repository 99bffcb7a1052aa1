"""Generation metrics, Elo, battle matrix, judge agreement and fidelity on hand-computed cases."""

from __future__ import annotations

import math

import pytest
from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU

from models_ml.arena import metrics
from models_ml.arena.metrics import Battle


def test_word_tokens_use_mecab_and_char_tokens_drop_whitespace():
    assert metrics.word_tokens("仕事が忙しい") == ["仕事", "が", "忙しい"]
    assert metrics.char_tokens("眠れ ない\n日") == ["眠", "れ", "な", "い", "日"]


def test_bleu_on_hand_computed_cases():
    # p1 = 2/3, same length (BP = 1)
    assert metrics.bleu(["あいう"], ["あいえ"], n=1, mode="char") == pytest.approx(100 * 2 / 3, abs=1e-2)
    # p1 = 2/3, p2 = 1/2 -> geometric mean sqrt(1/3)
    assert metrics.bleu(["あいう"], ["あいえ"], n=2, mode="char") == pytest.approx(100 * math.sqrt(1 / 3), abs=1e-2)
    # p1 = 1, brevity penalty exp(1 - 3/2)
    assert metrics.bleu(["あい"], ["あいう"], n=1, mode="char") == pytest.approx(100 * math.exp(-0.5), abs=1e-2)


def test_bleu_char_mode_matches_sacrebleu_char_tokenizer():
    hyps = ["今日はゆっくり休んでください。", "そのお気持ちはよくわかります。"]
    refs = ["今日はゆっくり休みましょう。", "お気持ちがよく伝わってきます。"]
    for n in (1, 2, 3, 4):
        ours = metrics.bleu(hyps, refs, n=n, mode="char")
        reference = BLEU(tokenize="char", max_ngram_order=n).corpus_score(hyps, [refs]).score
        assert ours == pytest.approx(reference, abs=1e-6)


def test_rouge_on_hand_computed_cases():
    scores = metrics.rouge(["あいう"], ["あいえ"], mode="char")
    assert scores["rouge1"] == pytest.approx(100 * 2 / 3)
    assert scores["rouge2"] == pytest.approx(50.0)
    assert scores["rougeL"] == pytest.approx(100 * 2 / 3)


def test_rouge_word_mode_agrees_with_rouge_score_on_pretokenised_text():
    hyp, ref = "仕事がとても忙しいです", "仕事が忙しいのですね"

    class Split:
        def tokenize(self, text):
            return text.split()

    direct = rouge_scorer.RougeScorer(["rouge1", "rougeL"], tokenizer=Split()).score(
        " ".join(metrics.word_tokens(ref)), " ".join(metrics.word_tokens(hyp))
    )
    ours = metrics.rouge([hyp], [ref], mode="word")
    assert ours["rouge1"] == pytest.approx(100 * direct["rouge1"].fmeasure)
    assert ours["rougeL"] == pytest.approx(100 * direct["rougeL"].fmeasure)


def test_distinct_n_on_hand_computed_cases():
    # unigrams a b a | a c -> 3 distinct of 5; bigrams ab ba | ac -> 3 of 3
    assert metrics.distinct_n(["aba", "ac"], n=1, mode="char") == pytest.approx(0.6)
    assert metrics.distinct_n(["aba", "ac"], n=2, mode="char") == pytest.approx(1.0)
    assert metrics.distinct_n(["aa", "aa"], n=2, mode="char") == pytest.approx(0.5)
    assert metrics.distinct_n(["a"], n=2, mode="char") == 0.0


def test_generation_metrics_report_both_tokenisations():
    report = metrics.generation_metrics(["今日は休みます"], ["今日は休みます"])
    assert set(report) == {"word", "char"}
    for row in report.values():
        assert row["bleu1"] == pytest.approx(100.0) and row["rougeL"] == pytest.approx(100.0)
        assert set(row) == {"bleu1", "bleu2", "bleu3", "bleu4", "rouge1", "rouge2", "rougeL", "distinct1", "distinct2"}


def test_online_elo_on_hand_computed_cases():
    one = metrics.online_elo([Battle("x", "y", "a")], k=32)
    assert one == {"x": 1016.0, "y": 984.0}
    two = metrics.online_elo([Battle("x", "y", "a"), Battle("x", "y", "b")], k=32)
    # y (984) beats x (1016): expected 1 / (1 + 10^(32/400)) = 0.454079
    assert two["y"] == pytest.approx(984 + 32 * (1 - 0.454079), abs=1e-3)
    assert two["x"] == pytest.approx(1016 - 32 * (1 - 0.454079), abs=1e-3)
    assert metrics.online_elo([Battle("x", "y", "tie")], k=32) == {"x": 1000.0, "y": 1000.0}
    assert metrics.online_elo([Battle("x", "y", "a")], k=10)["x"] == 1005.0


def test_bootstrap_interval_contains_the_rating_of_a_one_sided_record():
    battles = [Battle("x", "y", "a")] * 20
    ci = metrics.online_elo_bootstrap(battles, k=16, rounds=50)
    rating = metrics.online_elo(battles, k=16)["x"]
    assert ci["x"][0] <= rating <= ci["x"][1]
    assert ci["x"][0] > 1000 > ci["y"][1]


def test_battle_matrix_counts_each_pair_symmetrically():
    names, matrix = metrics.battle_matrix([Battle("x", "y", "a"), Battle("y", "x", "b"), Battle("x", "z", "tie")])
    assert names == ["x", "y", "z"]
    assert matrix == [[0, 2, 1], [2, 0, 0], [1, 0, 0]]


def test_agreement_matrix_and_position_consistency_on_hand_made_battles():
    battles = [
        Battle("x", "y", "a", judge="human:h", pair_key="p1"),  # x
        Battle("x", "y", "a", judge="llm:j", pair_key="p1"),  # x
        Battle("x", "y", "a", judge="llm:j", pair_key="p1"),  # x again (other order): consistent
        Battle("x", "y", "b", judge="human:h", pair_key="p2"),  # y
        Battle("x", "y", "a", judge="llm:j", pair_key="p2"),  # x
        Battle("x", "y", "b", judge="llm:j", pair_key="p2"),  # y: inconsistent -> tie
        Battle("x", "y", "a", judge="llm:j", pair_key="p3"),  # only the LLM judged p3
    ]
    judges, rates, counts = metrics.agreement_matrix(battles)
    assert judges == ["human:h", "llm:j"]
    assert counts == [[2, 2], [2, 3]]
    assert rates[0][1] == rates[1][0] == pytest.approx(0.5)  # p1 agree, p2 y vs tie
    assert rates[0][0] == 1.0
    assert metrics.position_consistency(battles) == {"llm:j": 0.5}


def test_overlap_and_fidelity_against_random_pairing():
    # Eq. 1 divides by the role card's vocabulary, not by the client's
    assert metrics.overlap({"a", "b"}, {"b", "c", "d", "e"}) == 0.5
    assert metrics.overlap({"a", "b", "c", "d"}, {"a"}) == 0.25
    assert metrics.overlap({"a"}, set()) == 0.0
    assert metrics.overlap(set(), {"a"}) == 0.0
    # a client who repeats one card word among many of its own still covers 1 of the card's 2 words
    assert metrics.fidelity_eq1("上司と残業", "残業の話です。それから猫と犬と旅行と料理の話も") == 0.5
    cards = {"1": "残業が続いて眠れない会社員", "2": "部活の先輩との関係に悩む高校生"}
    pairs = [("1", "残業で眠れない日が続いています"), ("2", "部活の先輩が怖いです")]
    result = metrics.fidelity(pairs, cards)
    assert result["sessions"] == 2
    assert result["matched"] > result["random"]
    assert result["random"] == 0.0
