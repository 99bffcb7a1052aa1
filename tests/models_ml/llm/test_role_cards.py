import json

import pytest

from models_ml.llm.role_cards import (
    AGE_MAX,
    BIG_FIVE_TRAITS,
    ERR_AGE,
    ERR_BAD_JSON,
    ERR_BIG_FIVE,
    ERR_MISSING,
    ERR_NOT_OBJECT,
    ERR_NOT_TEXT,
    ERR_TOO_LONG,
    ERR_TRAIT,
    ERR_UNKNOWN,
    FIELD_LABELS,
    MAX_CHARS,
    MAX_TRAIT_CHARS,
    RoleCard,
    RoleCardError,
    example_role_cards,
    load_role_card,
    render_client_system_prompt,
)


def valid_card() -> dict:
    return {
        "gender": "女性",
        "age": 41,
        "education": "高校卒業",
        "occupation": "スーパーのパート",
        "marital_status": "離婚",
        "family": "中学生の息子と二人暮らし",
        "big_five": {k: "普通" for k in BIG_FIVE_TRAITS},
        "resistance": "相談に慣れておらず、最初は口数が少ない",
        "chief_complaint": "息子が学校に行かなくなり、どう接したらよいか分からない",
    }


def test_the_three_example_cards_are_valid_and_render():
    cards = example_role_cards()
    assert len(cards) == 3
    for card in cards.values():
        prompt = render_client_system_prompt(card)
        assert card.chief_complaint in prompt
        assert f"{card.age}歳" in prompt
        assert "1文か2文" in prompt and "箇条書き" in prompt
        assert all(label in prompt for label in FIELD_LABELS.values())


def test_rendered_prompt_contains_every_element_of_the_card():
    card = RoleCard.from_dict(valid_card())
    prompt = render_client_system_prompt(card)
    for value in (
        "女性",
        "41歳",
        "高校卒業",
        "スーパーのパート",
        "離婚",
        "中学生の息子と二人暮らし",
        "神経症傾向: 普通",
    ):
        assert value in prompt


@pytest.mark.parametrize("field", list(FIELD_LABELS))
def test_missing_field_is_rejected_by_name(field):
    data = valid_card()
    del data[field]
    with pytest.raises(RoleCardError) as exc:
        RoleCard.from_dict(data)
    assert str(exc.value) == ERR_MISSING.format(field=field)


@pytest.mark.parametrize("field", list(MAX_CHARS))
def test_oversized_text_field_is_rejected(field):
    data = valid_card()
    data[field] = "あ" * (MAX_CHARS[field] + 1)
    with pytest.raises(RoleCardError) as exc:
        RoleCard.from_dict(data)
    assert str(exc.value) == ERR_TOO_LONG.format(field=field, length=MAX_CHARS[field] + 1, max=MAX_CHARS[field])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"age": AGE_MAX + 1}, ERR_AGE),
        ({"age": "四十"}, ERR_AGE),
        ({"age": True}, ERR_AGE),
        ({"big_five": {"openness": "高い"}}, ERR_BIG_FIVE),
        (
            {"big_five": {**{k: "普通" for k in BIG_FIVE_TRAITS}, "openness": "x" * (MAX_TRAIT_CHARS + 1)}},
            ERR_TRAIT.format(trait="openness", max=MAX_TRAIT_CHARS),
        ),
        ({"gender": 3}, ERR_NOT_TEXT.format(field="gender")),
        ({"gender": "   "}, ERR_MISSING.format(field="gender")),
        ({"hobby": "釣り"}, ERR_UNKNOWN.format(fields="hobby")),
    ],
)
def test_invalid_values_are_rejected_with_a_clear_message(change, message):
    with pytest.raises(RoleCardError) as exc:
        RoleCard.from_dict({**valid_card(), **change})
    assert str(exc.value) == message


def test_non_object_and_bad_json_files_are_rejected(tmp_path):
    with pytest.raises(RoleCardError, match=ERR_NOT_OBJECT):
        RoleCard.from_dict(["女性", 41])
    path = tmp_path / "card.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(RoleCardError) as exc:
        load_role_card(path)
    assert str(exc.value).startswith(ERR_BAD_JSON.split("{")[0])


def test_card_round_trips_through_json(tmp_path):
    card = RoleCard.from_dict(valid_card())
    path = tmp_path / "card.json"
    path.write_text(json.dumps(card.to_dict(), ensure_ascii=False), encoding="utf-8")
    assert load_role_card(path) == card
