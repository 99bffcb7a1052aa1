"""The KokoroChat file format: its keys, the parsed dialogue every format yields, and the writer.

A file is ``json.dumps(obj, ensure_ascii=False, indent=2)`` without a trailing newline::

    {"dialogue": [{"role", "time", "utterance"}, ...],
     "topic": {"main_jp", "main_en", "sub"},
     "review_by_client_jp": {header (5) + 20 items + 3 screenings},
     "review_by_client_en": {the same values under the English keys}}

Times are naive Japan local time (``YYYY-MM-DDTHH:MM:SS``); in the database they are aware
datetimes in Asia/Tokyo. Validation lives in ``kokorochat.py`` (this format) and ``storable.py``
(what the database needs, for every format).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from feedback.items import HEADER_EN, HEADER_JP, ITEMS, SCREENING_CHECKED_JP, SCREENINGS
from roleplay.topics import TOPIC_LABELS

TZ_NAME = "Asia/Tokyo"
TOKYO = ZoneInfo(TZ_NAME)
TOP_KEYS = ("dialogue", "topic", "review_by_client_jp", "review_by_client_en")
TOPIC_KEYS = ("main_jp", "main_en", "sub")
MESSAGE_KEYS = ("role", "time", "utterance")
ROLES = ("counselor", "client")
REVIEW_KEYS_JP: tuple[str, ...] = HEADER_JP + tuple(i.jp for i in ITEMS) + tuple(s.jp for s in SCREENINGS)
REVIEW_KEYS_EN: tuple[str, ...] = HEADER_EN + tuple(i.en for i in ITEMS) + tuple(s.en for s in SCREENINGS)
# The published data writes a checked screening item as "チェックあり" in BOTH reviews.
SCREENING_CHECKED = SCREENING_CHECKED_JP


class ParsedMessage(NamedTuple):  # a tuple: 600k of them are built per import
    role: str
    created_at: datetime
    text: str


@dataclass(frozen=True, slots=True)
class ParsedDialogue:
    """One validated dialogue, whatever file format it came from (what the importer stores)."""

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
    # A multilingual file: the language (its file-name prefix) and one translated text per message.
    language: str = ""
    translation: tuple[str, ...] | None = None


def format_time(value: datetime) -> str:
    return value.astimezone(TOKYO).isoformat(timespec="seconds")[:19]


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


def parsed_object(p: ParsedDialogue) -> dict:
    """The dataset object of a parsed dialogue (what exporting it from the database gives)."""
    return dialogue_object(
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
