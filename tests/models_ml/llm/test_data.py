import re

import pytest

from models_ml.llm.data import (
    ERR_BAD_ITEMS,
    ERR_BAD_TURN,
    ERR_SCORE_PARSE,
    ITEM_NAMES,
    build_response_examples,
    build_score_examples,
    format_scores,
    normalize_record,
    parse_scores,
    split_response,
    split_score,
)
from models_ml.llm.prompts import COUNSELOR_SYSTEM_PROMPT

from .conftest import make_record


def kokorochat_style(score=80):
    """The published JSON structure (review_by_client_jp keyed by the Japanese item names)."""
    review = {"評価ID": "x", "点数": score, **{name: 4 for name in ITEM_NAMES}}
    return {
        "dialogue": [
            {"role": "counselor", "time": "t", "utterance": "こんにちは。"},
            {"role": "client", "time": "t", "utterance": "眠れません。"},
            {"role": "client", "time": "t", "utterance": "仕事のことで。"},
            {"role": "counselor", "time": "t", "utterance": "つらいですね。"},
            {"role": "counselor", "time": "t", "utterance": "詳しく教えてください。"},
            {"role": "client", "time": "t", "utterance": "上司が怖いんです。"},
            {"role": "counselor", "time": "t", "utterance": "そうでしたか。"},
        ],
        "topic": {"main_jp": "仕事", "main_en": "work", "sub": ""},
        "review_by_client_jp": review,
    }


def test_consecutive_messages_of_one_speaker_are_merged():
    rec = normalize_record(kokorochat_style())
    assert [t.role for t in rec.turns] == ["counselor", "client", "counselor", "client", "counselor"]
    assert rec.turns[1].text == "眠れません。\n仕事のことで。"
    assert rec.items == [4] * 20 and rec.score == 80 and rec.topic == "仕事"


def test_response_examples_are_history_to_next_counselor_turn():
    examples = build_response_examples([kokorochat_style()])
    assert len(examples) == 2
    first, second = examples
    assert first["prompt"][0] == {"role": "system", "content": COUNSELOR_SYSTEM_PROMPT}
    assert [m["role"] for m in first["prompt"][1:]] == ["assistant", "user"]
    assert first["prompt"][-1]["content"] == "眠れません。\n仕事のことで。"
    assert first["completion"] == [{"role": "assistant", "content": "つらいですね。\n詳しく教えてください。"}]
    assert len(second["prompt"]) == 5 and second["completion"][0]["content"] == "そうでしたか。"


def test_client_target_role_swaps_user_and_assistant():
    examples = build_response_examples([kokorochat_style()], target_role="client")
    assert [e["completion"][0]["content"] for e in examples] == ["眠れません。\n仕事のことで。", "上司が怖いんです。"]
    assert examples[0]["prompt"][1] == {"role": "user", "content": "こんにちは。"}


def test_score_examples_target_the_20_item_lines_and_parse_back():
    (example,) = build_score_examples([kokorochat_style()])
    assert "カウンセラー: こんにちは。" in example["prompt"][1]["content"]
    target = example["completion"][0]["content"]
    assert target.splitlines()[0] == f"{ITEM_NAMES[0]}: 4"
    assert parse_scores(target) == [4] * 20


def test_parser_accepts_shuffled_numbered_full_width_lines():
    values = [i % 6 for i in range(20)]
    lines = [
        f"{i + 1}. {name}：{str(v).translate(str.maketrans('012345', '０１２３４５'))}"
        for i, (name, v) in enumerate(zip(ITEM_NAMES, values, strict=True))
    ]
    assert parse_scores("評価結果です。\n" + "\n".join(reversed(lines))) == values


def test_parser_accepts_json_list_object_and_clamps():
    assert parse_scores("[5, 4, 3, 2, 1, 0, 5, 4, 3, 2, 1, 0, 5, 4, 3, 2, 1, 0, 7, -1]")[-2:] == [5, 0]
    obj = "{" + ", ".join(f'"{n}": 3' for n in ITEM_NAMES) + "}"
    assert parse_scores(f"```json\n{obj}\n```") == [3] * 20
    assert parse_scores(" ".join(["2"] * 20)) == [2] * 20


@pytest.mark.parametrize("text", ["", "よくわかりません", format_scores([3] * 20).rsplit("\n", 1)[0]])
def test_parser_rejects_incomplete_output(text):
    with pytest.raises(ValueError, match=re.escape(ERR_SCORE_PARSE)):
        parse_scores(text)


def test_bad_records_are_rejected_clearly():
    with pytest.raises(ValueError) as exc:
        normalize_record({"id": "a", "dialogue": [{"role": "therapist", "utterance": "x"}]})
    assert str(exc.value) == ERR_BAD_TURN.format(rid="a", index=0)
    with pytest.raises(ValueError) as exc:
        normalize_record({"id": "b", "dialogue": [], "items": [9] * 20, "score": 1})
    assert str(exc.value) == ERR_BAD_ITEMS.format(rid="b")


def test_response_split_holds_out_99_100_and_splits_rest_90_10():
    records = [make_record(i, 99 + (i % 2) if i < 5 else 50 + i) for i in range(45)]
    split = split_response(records, seed=1)
    assert {r.id for r in split.test} == {f"d{i:03d}" for i in range(5)}
    assert len(split.validation) == 4 and len(split.train) == 36
    assert not {r.id for r in split.test} & {r.id for r in split.train + split.validation}
    assert split_response(records, seed=1).validation == split.validation
    assert {r.id for r in split_response(records, seed=2).validation} != {r.id for r in split.validation}


def test_score_split_is_8_1_1_with_a_test_set_independent_of_the_seed():
    records = [make_record(i, 40 + i) for i in range(50)]
    a, b = split_score(records, seed=1), split_score(records, seed=2)
    assert a.sizes() == {"train": 40, "validation": 5, "test": 5}
    assert [r.id for r in a.test] == [r.id for r in b.test]
    assert {r.id for r in a.validation} != {r.id for r in b.validation}


@pytest.mark.dataset
def test_published_dataset_gives_the_papers_118_test_dialogues_and_round_trips_scores(kokorochat_dir):
    import json

    records = [
        normalize_record(json.loads(p.read_text(encoding="utf-8")), p.stem)
        for p in sorted(kokorochat_dir.glob("*.json"))
    ]
    split = split_response(records)
    assert len(split.test) == 118
    assert len(split.train) + len(split.validation) == len(records) - 118
    assert round(len(split.validation) / (len(records) - 118), 2) == 0.10
    sizes = split_score(records).sizes()
    assert abs(sizes["train"] / 8 - sizes["test"]) / sizes["test"] < 0.05
    assert all(parse_scores(format_scores(r.items)) == r.items for r in records[:200])
    assert all(t.role != u.role for r in records[:200] for t, u in zip(r.turns, r.turns[1:], strict=False))


def test_item_names_are_the_feedback_questionnaires_japanese_keys_in_order():
    from feedback.items import ITEMS

    assert ITEM_NAMES == tuple(item.jp for item in ITEMS)
