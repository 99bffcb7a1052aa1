import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from feedback.dataset import errors, schema
from feedback.dataset.errors import DatasetFormatError
from feedback.dataset.formats import parse_file
from feedback.dataset.schema import dump_file
from feedback.items import HEADER_JP, ITEMS, SCREENING_CHECKED_JP, SCREENINGS

from .conftest import dump, make_dialogue


def _err(template, **params):
    """The expected message, rendered later in the language of the test."""
    return lambda: str(template) % params


def test_valid_file_parses_to_aware_tokyo_times_and_values():
    parsed = parse_file(dump(make_dialogue(evaluation_id=7, client_id=3, counselor_id=9)))
    assert parsed.evaluation_id == 7 and parsed.client_id == 3 and parsed.counselor_id == 9
    assert parsed.topic == "workplace" and parsed.topic_sub == "上司との関係"
    assert parsed.messages[0].created_at == datetime(2024, 5, 1, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert parsed.messages[1].role == "client"
    assert parsed.items[0] == 3 and parsed.screenings == (False, False, False)


def test_checked_screening_is_read_from_both_reviews():
    obj = make_dialogue(screenings=(False, False, True))
    parsed = parse_file(dump(obj))
    assert parsed.screenings == (False, False, True)
    assert parsed.score == sum(parsed.items) // 2


def _set_both(obj, index, value):
    for review in ("review_by_client_jp", "review_by_client_en"):
        key = list(obj[review])[index]
        obj[review][key] = value
    return obj


JP = "review_by_client_jp"
INT32 = (1, 2**31 - 1)
MALFORMED = [
    ("bad json", lambda o: '{\n  "dialogue": [}', _err(errors.ERR_BAD_JSON, line=2, col=16)),
    ("not object", lambda o: "[1, 2]", _err(errors.ERR_NOT_OBJECT, field="the file", value="[1, 2]")),
    (
        "missing topic",
        lambda o: {k: v for k, v in o.items() if k != "topic"},
        _err(errors.ERR_MISSING_KEY, key="topic", field="the file"),
    ),
    (
        "extra key",
        lambda o: {**o, "extra": 1},
        _err(
            errors.ERR_UNKNOWN_KEY,
            key="extra",
            field="the file",
            rule="dialogue, topic, review_by_client_jp, review_by_client_en",
        ),
    ),
    ("empty dialogue", lambda o: {**o, "dialogue": []}, _err(errors.ERR_EMPTY_DIALOGUE, field="dialogue")),
    (
        "dialogue not list",
        lambda o: {**o, "dialogue": {"a": 1}},
        _err(errors.ERR_NOT_LIST, field="dialogue", value='{"a": 1}'),
    ),
    (
        "unknown role",
        lambda o: o["dialogue"][1].update(role="observer") or o,
        _err(errors.ERR_UNKNOWN_ROLE, field="dialogue[2].role", value='"observer"', rule="counselor, client"),
    ),
    (
        "bad time",
        lambda o: o["dialogue"][0].update(time="2024/05/01 10:00") or o,
        _err(errors.ERR_BAD_TIME, field="dialogue[1].time", value='"2024/05/01 10:00"'),
    ),
    (
        "impossible date",
        lambda o: o["dialogue"][2].update(time="2024-02-30T10:00:00") or o,
        _err(errors.ERR_BAD_TIME, field="dialogue[3].time", value='"2024-02-30T10:00:00"'),
    ),
    (
        "time with a trailing newline",
        lambda o: o["dialogue"][0].update(time="2024-05-01T10:00:00\n") or o,
        _err(errors.ERR_BAD_TIME, field="dialogue[1].time", value='"2024-05-01T10:00:00\\n"'),
    ),
    (
        "time in full-width digits",
        lambda o: o["dialogue"][0].update(time="２０２４-05-01T10:00:00") or o,
        _err(errors.ERR_BAD_TIME, field="dialogue[1].time", value='"２０２４-05-01T10:00:00"'),
    ),
    (
        "year out of range",
        lambda o: o["dialogue"][0].update(time="0001-01-01T00:00:00") or o,
        _err(errors.ERR_TIME_RANGE, field="dialogue[1].time", value='"0001-01-01T00:00:00"', min=1900, max=2999),
    ),
    (
        "times out of order",
        lambda o: o["dialogue"][3].update(time="2024-05-01T09:00:00") or o,
        _err(errors.ERR_TIME_ORDER, field="dialogue[4].time", value='"2024-05-01T09:00:00"'),
    ),
    (
        "utterance not text",
        lambda o: o["dialogue"][0].update(utterance=5) or o,
        _err(errors.ERR_NOT_TEXT, field="dialogue[1].utterance", value="5"),
    ),
    (
        "NUL in an utterance",
        lambda o: o["dialogue"][1].update(utterance="あ\x00い") or o,
        _err(errors.ERR_TEXT_NUL, field="dialogue[2].utterance", pos=1),
    ),
    (
        "lone surrogate in an utterance",
        lambda o: dump(o).replace("こんにちは", "\\ud800こんにちは", 1),
        _err(errors.ERR_TEXT_SURROGATE, field="dialogue[1].utterance", pos=0, char="U+D800"),
    ),
    (
        "lone surrogate in the sub",
        lambda o: dump(o).replace("上司との関係", "上司\\udfffとの関係", 1),
        _err(errors.ERR_TEXT_SURROGATE, field="topic.sub", pos=2, char="U+DFFF"),
    ),
    (
        "message missing key",
        lambda o: o["dialogue"][0].pop("time") and o,
        _err(errors.ERR_MISSING_KEY, key="time", field="dialogue[1]"),
    ),
    (
        "unknown topic",
        lambda o: o["topic"].update(main_jp="宇宙問題") or o,
        _err(errors.ERR_UNKNOWN_TOPIC, value='["宇宙問題", "Workplace Issues"]'),
    ),
    (
        "topic pair mismatch",
        lambda o: o["topic"].update(main_en="School Issues") or o,
        _err(errors.ERR_UNKNOWN_TOPIC, value='["職場問題", "School Issues"]'),
    ),
    (
        "score above 100",
        lambda o: _set_both(o, 4, 101),
        _err(errors.ERR_OUT_OF_RANGE, field=f"{JP}.点数", value=101, min=0, max=100),
    ),
    (
        "negative score",
        lambda o: _set_both(o, 4, -1),
        _err(errors.ERR_OUT_OF_RANGE, field=f"{JP}.点数", value=-1, min=0, max=100),
    ),
    (
        "score as a string",
        lambda o: _set_both(o, 4, "72"),
        _err(errors.ERR_STRING_FOR_NUMBER, field=f"{JP}.点数", value='"72"', min=0, max=100),
    ),
    (
        "score NaN",
        lambda o: dump(_set_both(o, 4, 0.5)).replace("0.5", "NaN"),
        _err(errors.ERR_NON_FINITE, field=f"{JP}.点数", value="NaN", min=0, max=100),
    ),
    (
        "score Infinity",
        lambda o: dump(_set_both(o, 4, 0.5)).replace("0.5", "-Infinity"),
        _err(errors.ERR_NON_FINITE, field=f"{JP}.点数", value="-Infinity", min=0, max=100),
    ),
    (
        "score overflowing float",
        lambda o: dump(_set_both(o, 4, 0.5)).replace("0.5", "1e999"),
        _err(errors.ERR_NON_FINITE, field=f"{JP}.点数", value="1e999", min=0, max=100),
    ),
    (
        "score float",
        lambda o: _set_both(o, 4, 73.0),
        _err(errors.ERR_NOT_INTEGER, field=f"{JP}.点数", value="73.0", min=0, max=100),
    ),
    (
        "score breaks rule",
        lambda o: _set_both(o, 4, 10),
        _err(errors.ERR_SCORE_RULE, field=f"{JP}.点数", value=10, expected=73),
    ),
    (
        "item above 5",
        lambda o: _set_both(o, 5, 6),
        _err(errors.ERR_OUT_OF_RANGE, field=f"{JP}.{ITEMS[0].jp}", value=6, min=0, max=5),
    ),
    (
        "item bool",
        lambda o: _set_both(o, 7, True),
        _err(errors.ERR_NOT_INTEGER, field=f"{JP}.{ITEMS[2].jp}", value="true", min=0, max=5),
    ),
    (
        "screening other text",
        lambda o: _set_both(o, 25, "はい"),
        _err(
            errors.ERR_BAD_SCREENING,
            field=f"{JP}.{SCREENINGS[0].jp}",
            value='"はい"',
            rule=f'null / "{SCREENING_CHECKED_JP}"',
        ),
    ),
    (
        "evaluation id zero",
        lambda o: _set_both(o, 0, 0),
        _err(errors.ERR_OUT_OF_RANGE, field=f"{JP}.{HEADER_JP[0]}", value=0, min=INT32[0], max=INT32[1]),
    ),
    (
        "evaluation id 2^31",
        lambda o: _set_both(o, 0, 2**31),
        _err(errors.ERR_OUT_OF_RANGE, field=f"{JP}.{HEADER_JP[0]}", value=2**31, min=INT32[0], max=INT32[1]),
    ),
    (
        "client id 2^31",
        lambda o: _set_both(o, 2, 2**31),
        _err(errors.ERR_OUT_OF_RANGE, field=f"{JP}.{HEADER_JP[2]}", value=2**31, min=INT32[0], max=INT32[1]),
    ),
    (
        "counselor id past 2^63",
        lambda o: _set_both(o, 3, 2**63 + 7),
        _err(errors.ERR_OUT_OF_RANGE, field=f"{JP}.{HEADER_JP[3]}", value=2**63 + 7, min=INT32[0], max=INT32[1]),
    ),
    (
        "client id text",
        lambda o: _set_both(o, 2, "x"),
        _err(errors.ERR_STRING_FOR_NUMBER, field=f"{JP}.{HEADER_JP[2]}", value='"x"', min=INT32[0], max=INT32[1]),
    ),
    (
        "bad evaluation time",
        lambda o: _set_both(o, 1, "yesterday"),
        _err(errors.ERR_BAD_TIME, field=f"{JP}.{HEADER_JP[1]}", value='"yesterday"'),
    ),
    (
        "reviews disagree",
        lambda o: o["review_by_client_en"].update(score=74) or o,
        _err(errors.ERR_REVIEWS_DISAGREE, field="review_by_client_en.score", value=74, other=f"{JP}.点数", expected=73),
    ),
    (
        "missing review key",
        lambda o: o[JP].pop(ITEMS[19].jp) and o,
        _err(errors.ERR_MISSING_KEY, key=ITEMS[19].jp, field=JP),
    ),
    (
        "sub too long",
        lambda o: o["topic"].update(sub="あ" * 201) or o,
        _err(errors.ERR_TEXT_TOO_LONG, field="topic.sub", value=201, max=200),
    ),
    (
        "duplicate key",
        lambda o: dump(o).replace('"topic": {', '"topic": {"sub": "x", ', 1),
        _err(errors.ERR_DUPLICATE_KEY, key='"sub"'),
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_file_is_rejected_naming_field_value_and_rule(mutate, expected):
    obj = make_dialogue()
    assert obj["review_by_client_jp"]["点数"] == 73  # the rule the "score breaks rule" case relies on
    bad = mutate(obj)
    raw = bad if isinstance(bad, str) else dump(bad)
    with translation.override("en"), pytest.raises(DatasetFormatError) as exc:
        parse_file(raw)
    with translation.override("en"):
        assert str(exc.value.message) == expected()


def test_invalid_utf8_is_a_format_error_naming_the_byte():
    with translation.override("en"), pytest.raises(DatasetFormatError) as exc:
        parse_file(b'{"a": "\xe3\x81"}')
    with translation.override("en"):
        assert str(exc.value.message) == _err(errors.ERR_NOT_UTF8, pos=7)()


def test_dialogue_object_round_trips_a_valid_file_byte_for_byte():
    raw = dump(make_dialogue(screenings=(True, False, True), score=0))
    obj = schema.parsed_object(parse_file(raw))
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
