import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from feedback.dataset import schema
from feedback.dataset.schema import DatasetFormatError, dump_file, validate_dialogue
from feedback.items import HEADER_JP, ITEMS, SCREENING_CHECKED_JP, SCREENINGS

from .conftest import dump, make_dialogue


def _err(template, **params) -> str:
    return str(template) % params


def test_valid_file_parses_to_aware_tokyo_times_and_values():
    parsed = validate_dialogue(dump(make_dialogue(evaluation_id=7, client_id=3, counselor_id=9)))
    assert parsed.evaluation_id == 7 and parsed.client_id == 3 and parsed.counselor_id == 9
    assert parsed.topic == "workplace" and parsed.topic_sub == "上司との関係"
    assert parsed.messages[0].created_at == datetime(2024, 5, 1, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert parsed.messages[1].role == "client"
    assert parsed.items[0] == 3 and parsed.screenings == (False, False, False)


def test_checked_screening_is_read_from_both_reviews():
    obj = make_dialogue(screenings=(False, False, True))
    parsed = validate_dialogue(dump(obj))
    assert parsed.screenings == (False, False, True)
    assert parsed.score == sum(parsed.items) // 2


def _set_both(obj, index, value):
    for review in ("review_by_client_jp", "review_by_client_en"):
        key = list(obj[review])[index]
        obj[review][key] = value
    return obj


MALFORMED = [
    ("bad json", lambda o: dump(o)[:-3], None),
    ("not object", lambda o: "[1, 2]", _err(schema.ERR_NOT_OBJECT, where="the file")),
    (
        "missing topic",
        lambda o: {k: v for k, v in o.items() if k != "topic"},
        _err(schema.ERR_MISSING_KEY, key="topic", where="the file"),
    ),
    ("extra key", lambda o: {**o, "extra": 1}, _err(schema.ERR_UNKNOWN_KEY, key="extra", where="the file")),
    ("empty dialogue", lambda o: {**o, "dialogue": []}, _err(schema.ERR_EMPTY_DIALOGUE)),
    ("dialogue not list", lambda o: {**o, "dialogue": {"a": 1}}, _err(schema.ERR_DIALOGUE_NOT_LIST)),
    (
        "unknown role",
        lambda o: o["dialogue"][1].update(role="observer") or o,
        _err(schema.ERR_UNKNOWN_ROLE, n=2, role="observer"),
    ),
    (
        "bad time",
        lambda o: o["dialogue"][0].update(time="2024/05/01 10:00") or o,
        _err(schema.ERR_BAD_TIME, where="dialogue[1]", value="2024/05/01 10:00"),
    ),
    (
        "impossible date",
        lambda o: o["dialogue"][2].update(time="2024-02-30T10:00:00") or o,
        _err(schema.ERR_BAD_TIME, where="dialogue[3]", value="2024-02-30T10:00:00"),
    ),
    (
        "utterance not text",
        lambda o: o["dialogue"][0].update(utterance=5) or o,
        _err(schema.ERR_NOT_TEXT, where="dialogue[1].utterance"),
    ),
    (
        "message missing key",
        lambda o: o["dialogue"][0].pop("time") and o,
        _err(schema.ERR_MISSING_KEY, key="time", where="dialogue[1]"),
    ),
    (
        "unknown topic",
        lambda o: o["topic"].update(main_jp="宇宙問題") or o,
        _err(schema.ERR_UNKNOWN_TOPIC, jp="宇宙問題", en="Workplace Issues"),
    ),
    (
        "topic pair mismatch",
        lambda o: o["topic"].update(main_en="School Issues") or o,
        _err(schema.ERR_UNKNOWN_TOPIC, jp="職場問題", en="School Issues"),
    ),
    ("score above 100", lambda o: _set_both(o, 4, 101), _err(schema.ERR_SCORE_RANGE, value=101)),
    ("negative score", lambda o: _set_both(o, 4, -1), _err(schema.ERR_SCORE_RANGE, value=-1)),
    ("score not int", lambda o: _set_both(o, 4, "72"), _err(schema.ERR_SCORE_RANGE, value="72")),
    ("score breaks rule", lambda o: _set_both(o, 4, 10), _err(schema.ERR_SCORE_RULE, value=10, expected=73)),
    ("item above 5", lambda o: _set_both(o, 5, 6), _err(schema.ERR_ITEM_RANGE, key=ITEMS[0].jp, value=6)),
    ("item negative", lambda o: _set_both(o, 6, -1), _err(schema.ERR_ITEM_RANGE, key=ITEMS[1].jp, value=-1)),
    ("item bool", lambda o: _set_both(o, 7, True), _err(schema.ERR_ITEM_RANGE, key=ITEMS[2].jp, value="true")),
    (
        "screening other text",
        lambda o: _set_both(o, 25, "はい"),
        _err(schema.ERR_BAD_SCREENING, key=SCREENINGS[0].jp, checked=SCREENING_CHECKED_JP, value="はい"),
    ),
    ("bad evaluation id", lambda o: _set_both(o, 0, 0), _err(schema.ERR_BAD_ID, key=HEADER_JP[0], value=0)),
    ("client id text", lambda o: _set_both(o, 2, "x"), _err(schema.ERR_BAD_ID, key=HEADER_JP[2], value="x")),
    (
        "bad evaluation time",
        lambda o: _set_both(o, 1, "yesterday"),
        _err(schema.ERR_BAD_TIME, where=HEADER_JP[1], value="yesterday"),
    ),
    (
        "reviews disagree",
        lambda o: o["review_by_client_en"].update(score=74) or o,
        _err(schema.ERR_REVIEWS_DISAGREE, key="score"),
    ),
    (
        "missing review key",
        lambda o: o["review_by_client_jp"].pop(ITEMS[19].jp) and o,
        _err(schema.ERR_MISSING_KEY, key=ITEMS[19].jp, where="review_by_client_jp"),
    ),
    ("sub too long", lambda o: o["topic"].update(sub="あ" * 201) or o, _err(schema.ERR_SUB_TOO_LONG, max=200)),
]


@pytest.mark.parametrize(("mutate", "expected"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_file_is_rejected_with_its_reason(mutate, expected):
    obj = make_dialogue()
    assert obj["review_by_client_jp"]["点数"] == 73  # the rule the "score breaks rule" case relies on
    bad = mutate(obj)
    raw = bad if isinstance(bad, str) else dump(bad)
    with pytest.raises(DatasetFormatError) as exc:
        validate_dialogue(raw)
    if expected is None:
        assert str(exc.value).startswith(str(schema.ERR_BAD_JSON).split("%")[0])
    else:
        assert str(exc.value) == expected


def test_invalid_utf8_is_a_format_error():
    with pytest.raises(DatasetFormatError):
        validate_dialogue(b"\xff\xfe{}")


def test_dialogue_object_round_trips_a_valid_file_byte_for_byte():
    raw = dump(make_dialogue(screenings=(True, False, True), score=0))
    p = validate_dialogue(raw)
    obj = schema.dialogue_object(
        evaluation_id=p.evaluation_id,
        created_at=p.created_at,
        client_id=p.client_id,
        counselor_id=p.counselor_id,
        score=p.score,
        items=p.items,
        screenings=p.screenings,
        topic=p.topic,
        topic_sub=p.topic_sub,
        messages=[(m.role, m.created_at, m.text) for m in p.messages],
    )
    assert dump_file(obj) == raw.encode("utf-8")
    assert json.loads(dump_file(obj))["review_by_client_en"]["harmful_due_to_ignorance"] == SCREENING_CHECKED_JP


@pytest.mark.parametrize(
    "text",
    ['引用 "です" と \\ バックスラッシュ', "改行\nと\tタブ", "絵文字😊と\u2028区切り", "", "\x00制御"],
)
def test_fast_writer_matches_json_dumps_indent_2(text):
    obj = make_dialogue(lines=(("counselor", text), ("client", "はい")), sub=text)
    assert dump_file(obj) == json.dumps(obj, ensure_ascii=False, indent=2).encode("utf-8")


def test_fast_writer_handles_an_empty_dialogue_and_unexpected_shapes():
    obj = make_dialogue()
    obj["dialogue"] = []
    assert dump_file(obj) == json.dumps(obj, ensure_ascii=False, indent=2).encode("utf-8")
    obj["topic"]["sub"] = ["入れ子"]
    assert dump_file(obj) == json.dumps(obj, ensure_ascii=False, indent=2).encode("utf-8")
