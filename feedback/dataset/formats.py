"""File formats the importer reads, and the checks every parsed dialogue passes.

A format is an object with ``name``, ``label``, ``matches(obj) -> bool`` (is this JSON value
in my format?) and ``parse(obj) -> ParsedDialogue`` (raise DatasetFormatError naming the
field, value and rule). ``parse_file`` reads the bytes strictly (``jsonload``), picks the first
registered format that matches (the first one when none does, so its message says what is
missing), parses, then runs ``check_storable`` — the database's limits, whatever the format.
To add a format, write such a class and ``register_format`` it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol

from feedback.items import ITEM_MAX, ITEM_MIN
from feedback.models import Feedback
from roleplay.models import Profile, Session
from roleplay.topics import TOPIC_LABELS

from .errors import ERR_EMPTY_DIALOGUE, ERR_UNKNOWN_ROLE, ERR_UNKNOWN_TOPIC, fail
from .jsonload import load_json
from .kokorochat import KOKOROCHAT, SCORE_RANGE
from .multilingual import MULTILINGUAL, language_of
from .schema import ROLES, ParsedDialogue
from .storable import YEAR_MAX, YEAR_MIN, check_int, check_text, check_time, column_range, has_bad_text, text_limit


class DatasetFileFormat(Protocol):
    name: str
    label: str

    def matches(self, obj: Any) -> bool: ...

    def parse(self, obj: Any) -> ParsedDialogue: ...


FORMATS: list[DatasetFileFormat] = [KOKOROCHAT, MULTILINGUAL]


def register_format(fmt: DatasetFileFormat) -> None:
    if all(f.name != fmt.name for f in FORMATS):
        FORMATS.append(fmt)


def detect_format(obj: Any) -> DatasetFileFormat:
    return next((f for f in FORMATS if f.matches(obj)), FORMATS[0])


def check_storable(p: ParsedDialogue) -> ParsedDialogue:
    """What the database needs, on the parsed values (a safety net under every format's own checks)."""
    check_int(p.evaluation_id, "evaluation_id", column_range(Feedback, "evaluation_id", minimum=1))
    ids = column_range(Profile, "dataset_id", minimum=1)
    check_int(p.client_id, "client_id", ids)
    check_int(p.counselor_id, "counselor_id", ids)
    check_int(p.score, "score", SCORE_RANGE)
    for n, item in enumerate(p.items, start=1):
        check_int(item, f"item {n}", (ITEM_MIN, ITEM_MAX))
    if p.topic not in TOPIC_LABELS:
        raise fail(ERR_UNKNOWN_TOPIC, value=p.topic)
    check_text(p.topic_sub, "topic_sub", text_limit(Session, "topic_sub"))
    check_time(p.created_at, "evaluation_created_at")
    if not p.messages:
        raise fail(ERR_EMPTY_DIALOGUE, field="dialogue")
    for n, m in enumerate(p.messages, start=1):
        if m.role not in ROLES:
            raise fail(ERR_UNKNOWN_ROLE, field=f"message {n}", value=m.role, rule=", ".join(ROLES))
    if has_bad_text("".join(m.text for m in p.messages)):  # one scan; find the message only on failure
        for n, m in enumerate(p.messages, start=1):
            check_text(m.text, f"message {n}")
    for n, m in enumerate(p.messages, start=1):
        if not YEAR_MIN <= m.created_at.year <= YEAR_MAX:
            check_time(m.created_at, f"message {n}")
    if p.translation is not None:
        if has_bad_text("".join(p.translation)):
            for n, text in enumerate(p.translation, start=1):
                check_text(text, f"translation {n}")
    return p


def parse_file(raw: bytes | str, name: str = "") -> ParsedDialogue:
    """Read, recognise and validate one file; DatasetFormatError with the first problem.

    A translation (the multilingual format) takes its language from the file ``name``."""
    obj = load_json(raw)
    parsed = detect_format(obj).parse(obj)
    if parsed.translation is not None and not parsed.language:
        parsed = replace(parsed, language=language_of(name))
    return check_storable(parsed)
