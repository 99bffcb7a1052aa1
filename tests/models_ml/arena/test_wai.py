"""WAI-O-S as published: 12 items (reverse-keyed 4 and 10), one item per prompt, 3 rounds averaged."""

import pytest

from models_ml.arena import wai


def test_the_twelve_items_of_the_short_form_in_three_subscales_with_items_4_and_10_reversed():
    items = wai.WAI_O_S_ITEMS
    assert [i.number for i in items] == list(range(1, 13))
    assert {s: [i.number for i in items if i.subscale == s] for s in wai.SUBSCALES} == {
        "goal": [4, 6, 10, 11],
        "task": [1, 2, 8, 12],
        "bond": [3, 5, 7, 9],
    }
    assert [i.number for i in items if i.reverse] == [4, 10]
    assert all(i.text_ja and i.text_en and i.guideline_ja for i in items)


def test_one_prompt_per_item_carries_the_conversation_the_item_and_its_guideline():
    item = wai.WAI_O_S_ITEMS[3]
    (message,) = wai.item_messages("カウンセラー: こんにちは", item)
    assert message["role"] == "user"
    text = message["content"]
    assert "カウンセラー: こんにちは" in text and item.text_ja in text and item.guideline_ja in text
    assert "1から7" in text
    others = [i.text_ja for i in wai.WAI_O_S_ITEMS if i is not item]
    assert not any(o in text for o in others)


@pytest.mark.parametrize(
    ("answer", "rating"), [("5", 5), ("評定: 6", 6), ("私の評定は５です。", 5), ("6点", 6), ("rating: 2", 2)]
)
def test_a_rating_is_parsed(answer, rating):
    assert wai.parse_rating(answer) == rating


@pytest.mark.parametrize("answer", ["4.5", "8", "0", "1から7のどれか", "とても良い", "", "12"])
def test_an_answer_without_one_rating_is_an_error(answer):
    with pytest.raises(ValueError, match=wai.ERR_WAI_RATING):
        wai.parse_rating(answer)


def test_three_rounds_are_averaged_and_the_negative_items_reversed():
    rounds = [[7] * 12, [6] * 12, [5] * 12]
    result = wai.score(rounds)
    assert result.items == [6.0] * 12
    assert result.scored[3] == result.scored[9] == 2.0  # 8 - 6
    assert result.means["goal"] == pytest.approx((2 + 6 + 2 + 6) / 4)
    assert result.means["task"] == result.means["bond"] == 6.0
    assert result.means["total"] == pytest.approx((10 * 6 + 2 * 2) / 12)
    with pytest.raises(ValueError):
        wai.score([[5] * 11])


def test_rate_session_asks_every_item_in_every_round():
    asked: list[str] = []

    def ask(messages):
        asked.append(messages[0]["content"])
        return 4

    result = wai.rate_session(ask, "対話", rounds=3)
    assert len(asked) == 36 and len(set(asked)) == 12
    assert result.means["total"] == 4.0
