"""The Multilingual KokoroChat format: a translation of one KokoroChat dialogue, and its writer.

A file ``{language}{evaluation id}.json`` (``en12.json``, ``zh12.json``; the language is the
file name's prefix) is ``json.dumps(obj, ensure_ascii=False, indent=2)`` without a trailing newline::

    {"dialogue": [{"role", "time", "origin", "content"}, ...],
     "topic": {"main_jp", "main_en", "sub"},
     "review_by_client": {the 28 values under the English review keys}}

``origin`` is the Japanese utterance, ``content`` its translation. Parsing yields the Japanese
dialogue (``origin`` texts, the review as the Japanese one) with ``translation`` (one text per
message) and ``language``; the importer attaches the translation to the stored messages, or
creates the Japanese dialogue from the file when it is not stored yet.
"""

from __future__ import annotations

import json
import re
from pathlib import PurePosixPath
from typing import Any

from .errors import (
    ERR_BAD_LANGUAGE_NAME,
    ERR_EMPTY_DIALOGUE,
    ERR_NOT_LIST,
    ERR_ORIGINAL_LANGUAGE,
    ERR_TIME_ORDER,
    ERR_UNKNOWN_ROLE,
    THE_FILE_LABEL,
    fail,
)
from .kokorochat import _parse_topic, _time, check_object, parse_time, review_values
from .schema import REVIEW_KEYS_EN, ROLES, ParsedDialogue, ParsedMessage
from .storable import YEAR_MAX, YEAR_MIN, check_text, has_bad_text

ML_TOP_KEYS = ("dialogue", "topic", "review_by_client")
ML_MESSAGE_KEYS = ("role", "time", "origin", "content")
ML_REVIEW = ML_TOP_KEYS[2]
ORIGINAL_LANGUAGE = "ja"
_MESSAGE_KEYSET = frozenset(ML_MESSAGE_KEYS)
# The language code (en, zh, zh-Hant, ...) then the evaluation id: en12.json.
_NAME_RE = re.compile(r"([A-Za-z]{2,3}(?:-[A-Za-z]{2,8})*)(\d+)\.json", re.ASCII)
LANGUAGE_RE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z]{2,8})*", re.ASCII)


def language_of(name: str) -> str:
    """The language of a multilingual file from its name (``.../en12.json`` -> ``en``)."""
    base = PurePosixPath(name.replace("\\", "/")).name
    match = _NAME_RE.fullmatch(base)
    if match is None:
        raise fail(ERR_BAD_LANGUAGE_NAME, value=base)
    language = match.group(1)
    if language.lower() == ORIGINAL_LANGUAGE:
        raise fail(ERR_ORIGINAL_LANGUAGE, value=base)
    return language


def file_name(language: str, evaluation_id: int) -> str:
    return f"{language}{evaluation_id}.json"


def _parse_messages(dialogue: Any) -> tuple[tuple[ParsedMessage, ...], tuple[str, ...]]:
    field = ML_TOP_KEYS[0]
    if not isinstance(dialogue, list):
        raise fail(ERR_NOT_LIST, field=field, value=dialogue)
    if not dialogue:
        raise fail(ERR_EMPTY_DIALOGUE, field=field)
    out: list[ParsedMessage] = []
    translation: list[str] = []
    previous = ""
    for n, msg in enumerate(dialogue, start=1):  # field names are built on failure only
        if type(msg) is not dict or msg.keys() != _MESSAGE_KEYSET:
            check_object(msg, ML_MESSAGE_KEYS, f"{field}[{n}]")
        role, time, origin, content = msg["role"], msg["time"], msg["origin"], msg["content"]
        if type(role) is not str or role not in ROLES:
            raise fail(ERR_UNKNOWN_ROLE, field=f"{field}[{n}].role", value=role, rule=", ".join(ROLES))
        when = _time(time)
        if when is None or not YEAR_MIN <= when.year <= YEAR_MAX:
            parse_time(time, f"{field}[{n}].time")  # raises, naming the rule
        if time < previous:
            raise fail(ERR_TIME_ORDER, field=f"{field}[{n}].time", value=time)
        previous = time
        if type(origin) is not str:
            check_text(origin, f"{field}[{n}].origin")
        if type(content) is not str:
            check_text(content, f"{field}[{n}].content")
        out.append(ParsedMessage(role, when, origin))
        translation.append(content)
    for key, texts in (("origin", [m.text for m in out]), ("content", translation)):
        if has_bad_text("".join(texts)):
            for n, text in enumerate(texts, start=1):
                check_text(text, f"{field}[{n}].{key}")
    return tuple(out), tuple(translation)


class MultilingualFormat:
    """Multilingual KokoroChat (a translation beside each Japanese utterance, one English-keyed review)."""

    name = "multilingual"
    label = "Multilingual KokoroChat (dialogue of role, time, origin, content; topic; review_by_client)"

    def matches(self, obj: Any) -> bool:
        return isinstance(obj, dict) and ML_REVIEW in obj

    def parse(self, obj: Any) -> ParsedDialogue:
        check_object(obj, ML_TOP_KEYS, str(THE_FILE_LABEL))
        messages, translation = _parse_messages(obj[ML_TOP_KEYS[0]])
        topic, sub = _parse_topic(obj[ML_TOP_KEYS[1]])
        check_object(obj[ML_REVIEW], REVIEW_KEYS_EN, ML_REVIEW)
        review = review_values(obj[ML_REVIEW], REVIEW_KEYS_EN, ML_REVIEW)
        return ParsedDialogue(topic=topic, topic_sub=sub, messages=messages, translation=translation, **review)


MULTILINGUAL = MultilingualFormat()


def multilingual_object(obj: dict, translation: list[str] | tuple[str, ...]) -> dict:
    """The multilingual object of a dataset object (``dialogue_object``) and one translated text per message."""
    return {
        "dialogue": [
            {"role": m["role"], "time": m["time"], "origin": m["utterance"], "content": t}
            for m, t in zip(obj["dialogue"], translation, strict=True)
        ],
        "topic": obj["topic"],
        ML_REVIEW: obj["review_by_client_en"],
    }


_encode = json.JSONEncoder(ensure_ascii=False).encode  # the C encoder, one scalar at a time


def _flat(obj: dict) -> str:
    if not obj:
        return "{}"
    return "{\n" + ",\n".join(f"    {_encode(k)}: {_encode(v)}" for k, v in obj.items()) + "\n  }"


def _fast_shape(obj: dict) -> bool:
    if list(obj) != list(ML_TOP_KEYS) or not isinstance(obj["dialogue"], list) or not obj["dialogue"]:
        return False
    flat = (obj["topic"], obj[ML_REVIEW])
    if not all(isinstance(d, dict) for d in flat) or any(isinstance(v, dict | list) for d in flat for v in d.values()):
        return False
    return all(type(m) is dict and list(m) == list(ML_MESSAGE_KEYS) for m in obj["dialogue"])


def dump_multilingual(obj: dict) -> bytes:
    """Exactly ``json.dumps(obj, ensure_ascii=False, indent=2)``, fast for the format's fixed shape."""
    if not _fast_shape(obj):
        return json.dumps(obj, ensure_ascii=False, indent=2).encode("utf-8")
    enc = _encode
    messages = ",\n".join(
        f'    {{\n      "role": {enc(m["role"])},\n      "time": {enc(m["time"])},\n'
        f'      "origin": {enc(m["origin"])},\n      "content": {enc(m["content"])}\n    }}'
        for m in obj["dialogue"]
    )
    text = (
        '{\n  "dialogue": [\n'
        + messages
        + '\n  ],\n  "topic": '
        + _flat(obj["topic"])
        + f',\n  "{ML_REVIEW}": '
        + _flat(obj[ML_REVIEW])
        + "\n}"
    )
    return text.encode("utf-8")
