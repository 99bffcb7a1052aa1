"""The KokoroChat file format: validation of one dialogue file and its serialisation.

A file is ``json.dumps(obj, ensure_ascii=False, indent=2)`` without a trailing newline::

    {"dialogue": [{"role", "time", "utterance"}, ...],
     "topic": {"main_jp", "main_en", "sub"},
     "review_by_client_jp": {header (5) + 20 items + 3 screenings},
     "review_by_client_en": {the same values under the English keys}}

Times are naive Japan local time (``YYYY-MM-DDTHH:MM:SS``); in the database they are aware
datetimes in Asia/Tokyo. ``validate_dialogue`` checks everything before anything is stored.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_lazy as _

from feedback.items import (
    HEADER_EN,
    HEADER_JP,
    ITEM_MAX,
    ITEM_MIN,
    ITEMS,
    SCREENING_CHECKED_JP,
    SCREENINGS,
    compute_total,
)
from kokoro_site.errors import ServiceError
from roleplay.topics import TOPIC_BY_JP, TOPIC_LABELS

TZ_NAME = "Asia/Tokyo"
TOKYO = ZoneInfo(TZ_NAME)
_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
TOP_KEYS = ("dialogue", "topic", "review_by_client_jp", "review_by_client_en")
TOPIC_KEYS = ("main_jp", "main_en", "sub")
MESSAGE_KEYS = ("role", "time", "utterance")
ROLES = ("counselor", "client")
REVIEW_KEYS_JP: tuple[str, ...] = HEADER_JP + tuple(i.jp for i in ITEMS) + tuple(s.jp for s in SCREENINGS)
REVIEW_KEYS_EN: tuple[str, ...] = HEADER_EN + tuple(i.en for i in ITEMS) + tuple(s.en for s in SCREENINGS)
# The published data writes a checked screening item as "チェックあり" in BOTH reviews.
SCREENING_CHECKED = SCREENING_CHECKED_JP
SUB_MAX_CHARS = 200  # Session.topic_sub max_length
SCORE_MAX = 100

ERR_BAD_JSON = _("not valid JSON (UTF-8): %(detail)s")
ERR_NOT_OBJECT = _("%(where)s must be a JSON object")
ERR_MISSING_KEY = _("missing key %(key)s in %(where)s")
ERR_UNKNOWN_KEY = _("unknown key %(key)s in %(where)s")
ERR_EMPTY_DIALOGUE = _("the dialogue has no messages")
ERR_DIALOGUE_NOT_LIST = _("dialogue must be a list")
ERR_UNKNOWN_ROLE = _("message %(n)s: unknown role %(role)s")
ERR_BAD_TIME = _("%(where)s: bad time %(value)s (expected YYYY-MM-DDTHH:MM:SS)")
ERR_NOT_TEXT = _("%(where)s must be a string")
ERR_UNKNOWN_TOPIC = _("unknown topic %(jp)s / %(en)s (not one of the 11 KokoroChat topics)")
ERR_SUB_TOO_LONG = _("topic sub is longer than %(max)s characters")
ERR_BAD_ID = _("%(key)s must be a positive integer, got %(value)s")
ERR_SCORE_RANGE = _("score %(value)s is out of range 0–100")
ERR_SCORE_RULE = _("score %(value)s does not match the score rule (expected %(expected)s)")
ERR_ITEM_RANGE = _("item %(key)s must be an integer 0–5, got %(value)s")
ERR_BAD_SCREENING = _("screening item %(key)s must be null or %(checked)s, got %(value)s")
ERR_REVIEWS_DISAGREE = _("review_by_client_en disagrees with review_by_client_jp at %(key)s")


class DatasetFormatError(ServiceError, ValueError):
    """A dialogue file that does not follow the KokoroChat format (nothing of it is stored).

    ``code`` names the rule (``bad_time``, ``missing_key``, ...); ``message`` says where."""


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    role: str
    created_at: datetime
    text: str


@dataclass(frozen=True, slots=True)
class ParsedDialogue:
    evaluation_id: int
    created_at: datetime
    client_id: int
    counselor_id: int
    score: int
    items: tuple[int, ...]
    screenings: tuple[bool, ...]
    topic: str
    topic_sub: str
    messages: tuple[ParsedMessage, ...]


def _fail(code: str, message, **params: Any) -> DatasetFormatError:
    return DatasetFormatError(code, str(message) % {k: _show(v) for k, v in params.items()})


def _show(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_time(value: Any, where: str) -> datetime:
    if not isinstance(value, str) or not _TIME_RE.match(value):
        raise _fail("bad_time", ERR_BAD_TIME, where=where, value=value)
    try:
        return datetime.fromisoformat(value).replace(tzinfo=TOKYO)
    except ValueError:
        raise _fail("bad_time", ERR_BAD_TIME, where=where, value=value) from None


def format_time(value: datetime) -> str:
    return value.astimezone(TOKYO).isoformat(timespec="seconds")[:19]


def _check_object(obj: Any, keys: tuple[str, ...], where: str) -> dict:
    if not isinstance(obj, dict):
        raise _fail("not_object", ERR_NOT_OBJECT, where=where)
    for key in keys:
        if key not in obj:
            raise _fail("missing_key", ERR_MISSING_KEY, key=key, where=where)
    if len(obj) != len(keys):
        extra = next(k for k in obj if k not in keys)
        raise _fail("unknown_key", ERR_UNKNOWN_KEY, key=extra, where=where)
    return obj


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_messages(dialogue: Any) -> tuple[ParsedMessage, ...]:
    if not isinstance(dialogue, list):
        raise _fail("dialogue_not_list", ERR_DIALOGUE_NOT_LIST)
    if not dialogue:
        raise _fail("empty_dialogue", ERR_EMPTY_DIALOGUE)
    out = []
    for n, msg in enumerate(dialogue, start=1):
        where = f"dialogue[{n}]"
        _check_object(msg, MESSAGE_KEYS, where)
        role = msg["role"]
        if role not in ROLES:
            raise _fail("unknown_role", ERR_UNKNOWN_ROLE, n=n, role=role)
        text = msg["utterance"]
        if not isinstance(text, str):
            raise _fail("not_text", ERR_NOT_TEXT, where=f"{where}.utterance")
        out.append(ParsedMessage(role, parse_time(msg["time"], where), text))
    return tuple(out)


def _parse_topic(topic: Any) -> tuple[str, str]:
    _check_object(topic, TOPIC_KEYS, "topic")
    jp, en, sub = topic["main_jp"], topic["main_en"], topic["sub"]
    key = TOPIC_BY_JP.get(jp) if isinstance(jp, str) else None
    if key is None or TOPIC_LABELS[key][1] != en:
        raise _fail("unknown_topic", ERR_UNKNOWN_TOPIC, jp=jp, en=en)
    if not isinstance(sub, str):
        raise _fail("not_text", ERR_NOT_TEXT, where="topic.sub")
    if len(sub) > SUB_MAX_CHARS:
        raise _fail("sub_too_long", ERR_SUB_TOO_LONG, max=SUB_MAX_CHARS)
    return str(key), sub


def _parse_review(jp: dict, en: dict) -> dict[str, Any]:
    _check_object(jp, REVIEW_KEYS_JP, "review_by_client_jp")
    _check_object(en, REVIEW_KEYS_EN, "review_by_client_en")
    for kj, ke in zip(REVIEW_KEYS_JP, REVIEW_KEYS_EN, strict=True):
        a, b = jp[kj], en[ke]
        if a != b or type(a) is not type(b):
            raise _fail("reviews_disagree", ERR_REVIEWS_DISAGREE, key=ke)
    for key in HEADER_JP[0], HEADER_JP[2], HEADER_JP[3]:
        if not _is_int(jp[key]) or jp[key] <= 0:
            raise _fail("bad_id", ERR_BAD_ID, key=key, value=jp[key])
    items = tuple(jp[i.jp] for i in ITEMS)
    for item, value in zip(ITEMS, items, strict=True):
        if not _is_int(value) or not ITEM_MIN <= value <= ITEM_MAX:
            raise _fail("item_range", ERR_ITEM_RANGE, key=item.jp, value=value)
    screenings = []
    for s in SCREENINGS:
        value = jp[s.jp]
        if value is not None and value != SCREENING_CHECKED:
            raise _fail("bad_screening", ERR_BAD_SCREENING, key=s.jp, checked=SCREENING_CHECKED, value=value)
        screenings.append(value is not None)
    score = jp[HEADER_JP[4]]
    if not _is_int(score) or not 0 <= score <= SCORE_MAX:
        raise _fail("score_range", ERR_SCORE_RANGE, value=score)
    expected = compute_total(items, s1=screenings[0], s2=screenings[1], s3=screenings[2])
    if score != expected:
        raise _fail("score_rule", ERR_SCORE_RULE, value=score, expected=expected)
    return {
        "evaluation_id": jp[HEADER_JP[0]],
        "created_at": parse_time(jp[HEADER_JP[1]], HEADER_JP[1]),
        "client_id": jp[HEADER_JP[2]],
        "counselor_id": jp[HEADER_JP[3]],
        "score": score,
        "items": items,
        "screenings": tuple(screenings),
    }


def load_json(raw: bytes | str) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail("bad_json", ERR_BAD_JSON, detail=str(exc)) from None


def peek_evaluation_id(obj: Any) -> int | None:
    """The evaluation id of a loaded file, if it has a well-typed one (for the re-import check)."""
    review = obj.get("review_by_client_jp") if isinstance(obj, dict) else None
    value = review.get(HEADER_JP[0]) if isinstance(review, dict) else None
    return value if _is_int(value) else None


def validate_dialogue(raw: bytes | str) -> ParsedDialogue:
    """Parse and fully check one file; raises DatasetFormatError with the first problem."""
    return validate_object(load_json(raw))


def validate_object(obj: Any) -> ParsedDialogue:
    _check_object(obj, TOP_KEYS, "the file")
    messages = _parse_messages(obj["dialogue"])
    topic, sub = _parse_topic(obj["topic"])
    review = _parse_review(obj["review_by_client_jp"], obj["review_by_client_en"])
    return ParsedDialogue(topic=topic, topic_sub=sub, messages=messages, **review)


def dialogue_object(
    *,
    evaluation_id: int,
    created_at: datetime,
    client_id: int,
    counselor_id: int,
    score: int,
    items: list[int] | tuple[int, ...],
    screenings: list[bool] | tuple[bool, ...],
    topic: str,
    topic_sub: str,
    messages: list[tuple[str, datetime | str, str]],
) -> dict:
    """The dataset object of one session, keys in the published order.

    A message time may already be formatted (the exporter lets PostgreSQL format it).
    """
    main_jp, main_en = TOPIC_LABELS.get(topic, TOPIC_LABELS["others"])
    values = [evaluation_id, format_time(created_at), client_id, counselor_id, score, *items]
    values += [SCREENING_CHECKED if s else None for s in screenings]
    return {
        "dialogue": [
            {"role": r, "time": t if isinstance(t, str) else format_time(t), "utterance": u} for r, t, u in messages
        ],
        "topic": {"main_jp": main_jp, "main_en": main_en, "sub": topic_sub},
        "review_by_client_jp": dict(zip(REVIEW_KEYS_JP, values, strict=True)),
        "review_by_client_en": dict(zip(REVIEW_KEYS_EN, values, strict=True)),
    }


_encode = json.JSONEncoder(ensure_ascii=False).encode  # C encoder for one scalar


def _flat_dict(obj: dict, pad: str) -> str:
    if not obj:
        return "{}"
    inner = pad + "  "
    body = ",\n".join(f"{inner}{_encode(k)}: {_encode(v)}" for k, v in obj.items())
    return "{\n" + body + "\n" + pad + "}"


def _fast_shape(obj: dict) -> bool:
    if list(obj) != list(TOP_KEYS) or not isinstance(obj["dialogue"], list):
        return False
    flat = (obj["topic"], obj["review_by_client_jp"], obj["review_by_client_en"])
    if not all(isinstance(d, dict) for d in flat):
        return False
    if any(isinstance(v, dict | list) for d in flat for v in d.values()):
        return False
    return all(isinstance(m, dict) and list(m) == list(MESSAGE_KEYS) for m in obj["dialogue"])


def dump_file(obj: dict) -> bytes:
    """Bytes of one published-format file: exactly ``json.dumps(obj, ensure_ascii=False, indent=2)``.

    The standard library encodes indented JSON in pure Python; this writer knows the fixed
    shape of a dataset object and encodes only the leaves with the C encoder (measurably faster on 600k messages).
    Anything of another shape goes through ``json.dumps``.
    """
    if not _fast_shape(obj):
        return json.dumps(obj, ensure_ascii=False, indent=2).encode("utf-8")
    enc = _encode
    if obj["dialogue"]:
        messages = ",\n".join(
            f'    {{\n      "role": {enc(m["role"])},\n      "time": {enc(m["time"])},\n'
            f'      "utterance": {enc(m["utterance"])}\n    }}'
            for m in obj["dialogue"]
        )
        dialogue = "[\n" + messages + "\n  ]"
    else:
        dialogue = "[]"
    text = (
        '{\n  "dialogue": '
        + dialogue
        + ',\n  "topic": '
        + _flat_dict(obj["topic"], "  ")
        + ',\n  "review_by_client_jp": '
        + _flat_dict(obj["review_by_client_jp"], "  ")
        + ',\n  "review_by_client_en": '
        + _flat_dict(obj["review_by_client_en"], "  ")
        + "\n}"
    )
    return text.encode("utf-8")


def dump_line(obj: dict) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8") + b"\n"
