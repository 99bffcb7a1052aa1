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
    assert "自律" in messages[0]["content"] and "無危害" in messages[0]["content"]  # the paper's six criteria
    platform = judging.arena_judge_messages([], "一つ目", "二つ目", system=judging.ARENA_JUDGE_SYSTEM_PLATFORM)
    assert "共感" in platform[0]["content"] and "非審判的" in platform[0]["content"]
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
