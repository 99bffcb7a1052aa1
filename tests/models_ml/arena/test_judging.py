"""Parsing of the judges' answers (arena A/B, topic JSON, WAI items) including malformed output."""

from __future__ import annotations

import pytest

from models_ml.arena import judging


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("理由: 共感がある。\n判定: A", "A"),
        ("判定：Ｂ", "B"),  # full-width
        ("まずAを検討…最終的に\n判定: 「B」", "B"),
        ('```json\n{"winner": "B"}\n```', "B"),
        ("候補Aの方が良いと思います。", "A"),
        ("B", "B"),
        ("判定: 引き分け", "tie"),
        ("判定: A\n…やはり\n判定: B", "B"),  # the last verdict counts
    ],
)
def test_judge_answer_is_parsed(answer, expected):
    assert judging.parse_judge_answer(answer) == expected


@pytest.mark.parametrize("answer", ["", "よくわかりません。", "AもBも良い"])
def test_unparseable_judge_answer_is_an_error(answer):
    with pytest.raises(ValueError, match=judging.ERR_JUDGE_PARSE):
        judging.parse_judge_answer(answer)


def test_judge_prompt_states_the_principles_and_shows_both_candidates():
    messages = judging.arena_judge_messages([{"role": "client", "text": "眠れません"}], "一つ目", "二つ目")
    assert "共感" in messages[0]["content"] and "非審判的" in messages[0]["content"]
    assert "# 候補A\n一つ目" in messages[1]["content"] and "# 候補B\n二つ目" in messages[1]["content"]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ('{"category": "職場問題", "sub": "残業"}', ("workplace", "残業")),
        ('結果です\n```json\n{"category": "Workplace Issues", "sub": " 残業 "}\n```', ("workplace", "残業")),
        ('{"category": "家庭内問題(夫婦)", "sub": "すれ違い"}', ("family_spouse", "すれ違い")),
    ],
)
def test_topic_answer_is_parsed(answer, expected):
    assert judging.parse_topic_answer(answer) == expected


def test_unknown_topic_category_and_malformed_json_are_errors():
    with pytest.raises(ValueError, match="Unknown topic category"):
        judging.parse_topic_answer('{"category": "宇宙問題", "sub": "?"}')
    with pytest.raises(ValueError, match=judging.ERR_TOPIC_PARSE):
        judging.parse_topic_answer("職場の問題です")
    with pytest.raises(ValueError, match=judging.ERR_TOPIC_PARSE):
        judging.parse_topic_answer('{"category": 3, "sub": "x"}')


def test_wai_items_are_twelve_in_three_groups_of_four():
    assert len(judging.WAI_ITEMS) == 12
    assert [g for g, _t in judging.WAI_ITEMS].count("goal") == 4
    assert [g for g, _t in judging.WAI_ITEMS].count("bond") == 4


@pytest.mark.parametrize(
    "answer",
    [
        '{"scores": [5, 6, 5, 4, 5, 5, 6, 4, 6, 7, 6, 6]}',
        "[5,6,5,4,5,5,6,4,6,7,6,6]",
        "\n".join(f"{i}. {v}" for i, v in enumerate([5, 6, 5, 4, 5, 5, 6, 4, 6, 7, 6, 6], start=1)),
        '{"1": 5, "2": 6, "3": 5, "4": 4, "5": 5, "6": 5, "7": 6, "8": 4, "9": 6, "10": 7, "11": 6, "12": 6}',
    ],
)
def test_wai_answer_is_parsed_and_grouped(answer):
    items = judging.parse_wai_answer(answer)
    assert items == [5, 6, 5, 4, 5, 5, 6, 4, 6, 7, 6, 6]
    means = judging.wai_means(items)
    assert means == {"goal": 5.0, "task": 5.0, "bond": 6.25, "total": pytest.approx(65 / 12)}


@pytest.mark.parametrize(
    "answer", ['{"scores": [9, 9, 9]}', "[1,2,3,4,5,6,7,1,2,3,4,8]", "とても良い", "[1.5,2,3,4,5,6,7,1,2,3,4,5]"]
)
def test_malformed_wai_answer_is_an_error(answer):
    with pytest.raises(ValueError, match=judging.ERR_WAI_PARSE):
        judging.parse_wai_answer(answer)
