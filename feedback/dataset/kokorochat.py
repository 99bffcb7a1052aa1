"""Validation of the published KokoroChat format: one JSON object -> ParsedDialogue.

Every key, type, range and rule is checked and the first problem raised as a
DatasetFormatError naming the field (a JSON path such as ``dialogue[3].time`` or
``review_by_client_jp.点数``), the value and the rule. Messages are numbered from 1.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from feedback.items import HEADER_JP, ITEM_MAX, ITEM_MIN, ITEMS, compute_total
from feedback.models import Feedback
from roleplay.models import Profile, Session
from roleplay.topics import TOPIC_BY_JP, TOPIC_LABELS

from .errors import (
    ERR_BAD_SCREENING,
    ERR_BAD_TIME,
    ERR_EMPTY_DIALOGUE,
    ERR_MISSING_KEY,
    ERR_NOT_LIST,
    ERR_NOT_OBJECT,
    ERR_REVIEWS_DISAGREE,
    ERR_SCORE_RULE,
    ERR_TIME_ORDER,
    ERR_UNKNOWN_KEY,
    ERR_UNKNOWN_ROLE,
    ERR_UNKNOWN_TOPIC,
    THE_FILE_LABEL,
    fail,
)
from .schema import (
    MESSAGE_KEYS,
    REVIEW_KEYS_EN,
    REVIEW_KEYS_JP,
    ROLES,
    SCREENING_CHECKED,
    TOKYO,
    TOP_KEYS,
    TOPIC_KEYS,
    ParsedDialogue,
    ParsedMessage,
)
from .storable import YEAR_MAX, YEAR_MIN, check_int, check_text, check_time, column_range, has_bad_text, text_limit

REVIEW_JP, REVIEW_EN = TOP_KEYS[2], TOP_KEYS[3]
SCORE_RANGE = (0, 100)
_MESSAGE_KEYSET = frozenset(MESSAGE_KEYS)
_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", re.ASCII)  # ASCII digits only


def _time(value: Any) -> datetime | None:
    """The aware time of a ``YYYY-MM-DDTHH:MM:SS`` string, or None when it is not one."""
    if type(value) is str and _TIME_RE.fullmatch(value):
        try:
            return datetime.fromisoformat(value).replace(tzinfo=TOKYO)
        except ValueError:
            return None
    return None


def parse_time(value: Any, field: str) -> datetime:
    parsed = _time(value)
    if parsed is None:
        raise fail(ERR_BAD_TIME, field=field, value=value)
    return check_time(parsed, field, value)


def check_object(obj: Any, keys: tuple[str, ...], field: str) -> dict:
    if not isinstance(obj, dict):
        raise fail(ERR_NOT_OBJECT, field=field, value=obj)
    for key in keys:
        if key not in obj:
            raise fail(ERR_MISSING_KEY, field=field, key=key)
    if len(obj) != len(keys):
        extra = next(k for k in obj if k not in keys)
        raise fail(ERR_UNKNOWN_KEY, field=field, key=extra, rule=", ".join(keys))
    return obj


def _parse_messages(dialogue: Any) -> tuple[ParsedMessage, ...]:
    field = TOP_KEYS[0]
    if not isinstance(dialogue, list):
        raise fail(ERR_NOT_LIST, field=field, value=dialogue)
    if not dialogue:
        raise fail(ERR_EMPTY_DIALOGUE, field=field)
    out = []
    previous = ""
    for n, msg in enumerate(dialogue, start=1):  # the hot loop of an import: field names built on failure only
        if type(msg) is not dict or msg.keys() != _MESSAGE_KEYSET:
            check_object(msg, MESSAGE_KEYS, f"{field}[{n}]")
        role, time, text = msg["role"], msg["time"], msg["utterance"]
        if type(role) is not str or role not in ROLES:
            raise fail(ERR_UNKNOWN_ROLE, field=f"{field}[{n}].role", value=role, rule=", ".join(ROLES))
        when = _time(time)
        if when is None or not YEAR_MIN <= when.year <= YEAR_MAX:
            parse_time(time, f"{field}[{n}].time")  # raises, naming the rule
        if time < previous:  # one fixed format: string order is time order
            raise fail(ERR_TIME_ORDER, field=f"{field}[{n}].time", value=time)
        previous = time
        if type(text) is not str:
            check_text(text, f"{field}[{n}].utterance")
        out.append(ParsedMessage(role, when, text))
    if has_bad_text("".join(m.text for m in out)):  # one scan; name the message only on failure
        for n, m in enumerate(out, start=1):
            check_text(m.text, f"{field}[{n}].utterance")
    return tuple(out)


def _parse_topic(topic: Any) -> tuple[str, str]:
    check_object(topic, TOPIC_KEYS, TOP_KEYS[1])
    jp, en, sub = topic["main_jp"], topic["main_en"], topic["sub"]
    key = TOPIC_BY_JP.get(jp) if isinstance(jp, str) else None
    if key is None or TOPIC_LABELS[key][1] != en:
        raise fail(ERR_UNKNOWN_TOPIC, value=[jp, en])
    return str(key), check_text(sub, "topic.sub", text_limit(Session, "topic_sub"))


def _ranges() -> tuple[tuple[int, tuple[int, int]], ...]:
    """(position in the header, range): the evaluation id, the client and counselor ids, the score."""
    ids = column_range(Profile, "dataset_id", minimum=1)
    return ((0, column_range(Feedback, "evaluation_id", minimum=1)), (2, ids), (3, ids), (4, SCORE_RANGE))


def review_values(
    review: Any, keys: tuple[str, ...], label: str, *, twin: tuple[Any, tuple[str, ...], str] | None = None
) -> dict[str, Any]:
    """One review checked (Japanese or English keys, the same order): its values for ParsedDialogue.

    ``twin`` (review, keys, label): a second review that must hold the same values (checked
    before the score rule, as the published format's two reviews are)."""
    values = {n: check_int(review[keys[n]], f"{label}.{keys[n]}", limits) for n, limits in _ranges()}
    created_at = parse_time(review[keys[1]], f"{label}.{keys[1]}")
    n_header = len(HEADER_JP)
    item_keys = keys[n_header : n_header + len(ITEMS)]
    items = tuple(check_int(review[k], f"{label}.{k}", (ITEM_MIN, ITEM_MAX)) for k in item_keys)
    screenings = []
    for k in keys[n_header + len(ITEMS) :]:
        value = review[k]
        if value is not None and value != SCREENING_CHECKED:
            rule = f'null / "{SCREENING_CHECKED}"'
            raise fail(ERR_BAD_SCREENING, field=f"{label}.{k}", value=value, rule=rule)
        screenings.append(value is not None)
    if twin is not None:
        other, other_keys, other_label = twin
        for kj, ke in zip(keys, other_keys, strict=True):
            a, b = review[kj], other[ke]
            if a != b or type(a) is not type(b):
                raise fail(
                    ERR_REVIEWS_DISAGREE, field=f"{other_label}.{ke}", value=b, other=f"{label}.{kj}", expected=a
                )
    score = values[4]
    expected = compute_total(items, s1=screenings[0], s2=screenings[1], s3=screenings[2])
    if score != expected:
        raise fail(ERR_SCORE_RULE, field=f"{label}.{keys[4]}", value=score, expected=expected)
    return {
        "evaluation_id": values[0],
        "created_at": created_at,
        "client_id": values[2],
        "counselor_id": values[3],
        "score": score,
        "items": items,
        "screenings": tuple(screenings),
    }


def _parse_review(jp: Any, en: Any) -> dict[str, Any]:
    check_object(jp, REVIEW_KEYS_JP, REVIEW_JP)
    check_object(en, REVIEW_KEYS_EN, REVIEW_EN)
    return review_values(jp, REVIEW_KEYS_JP, REVIEW_JP, twin=(en, REVIEW_KEYS_EN, REVIEW_EN))


class KokoroChatFormat:
    """The published KokoroChat format (one object per file, Japanese and English reviews)."""

    name = "kokorochat"
    label = "KokoroChat (dialogue, topic, review_by_client_jp, review_by_client_en)"

    def matches(self, obj: Any) -> bool:
        return isinstance(obj, dict) and REVIEW_JP in obj

    def parse(self, obj: Any) -> ParsedDialogue:
        check_object(obj, TOP_KEYS, str(THE_FILE_LABEL))
        messages = _parse_messages(obj[TOP_KEYS[0]])
        topic, sub = _parse_topic(obj[TOP_KEYS[1]])
        review = _parse_review(obj[REVIEW_JP], obj[REVIEW_EN])
        return ParsedDialogue(topic=topic, topic_sub=sub, messages=messages, **review)


KOKOROCHAT = KokoroChatFormat()
