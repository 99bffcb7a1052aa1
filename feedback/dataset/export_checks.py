"""The import's rules that data from the database can still break, checked on each exported object.

An export writes only what the importer accepts: a dialogue that breaks one of these is left
out with the reason (the same messages the importer gives). Types and formats need no check
here (the exporter builds them); what the database does not enforce does: at least one message,
message times in order, item ranges and the score rule, the id ranges (a derived participant id
grows with the user id), storable text and the sub-topic length.
"""

from __future__ import annotations

from feedback.items import ITEM_MAX, ITEM_MIN, compute_total
from feedback.models import Feedback
from roleplay.models import Profile, Session

from .errors import ERR_EMPTY_DIALOGUE, ERR_SCORE_RULE, ERR_TIME_ORDER, ERR_UNKNOWN_ROLE, DatasetFormatError, fail
from .kokorochat import REVIEW_JP, SCORE_RANGE
from .schema import HEADER_JP, REVIEW_KEYS_JP, ROLES, TOP_KEYS
from .storable import check_int, check_text, column_range, has_bad_text, text_limit

N_HEADER = len(HEADER_JP)


def _check(obj: dict) -> None:
    dialogue = obj[TOP_KEYS[0]]
    if not dialogue:
        raise fail(ERR_EMPTY_DIALOGUE, field=TOP_KEYS[0])
    previous = ""
    for n, m in enumerate(dialogue, start=1):
        if m["role"] not in ROLES:
            raise fail(ERR_UNKNOWN_ROLE, field=f"dialogue[{n}].role", value=m["role"], rule=", ".join(ROLES))
        if m["time"] < previous:
            raise fail(ERR_TIME_ORDER, field=f"dialogue[{n}].time", value=m["time"])
        previous = m["time"]
    if has_bad_text("".join(m["utterance"] for m in dialogue)):
        for n, m in enumerate(dialogue, start=1):
            check_text(m["utterance"], f"dialogue[{n}].utterance")
    check_text(obj[TOP_KEYS[1]]["sub"], "topic.sub", text_limit(Session, "topic_sub"))
    review = obj[REVIEW_JP]
    values = [review[k] for k in REVIEW_KEYS_JP]
    ids = column_range(Profile, "research_id", minimum=1)
    check_int(values[0], f"{REVIEW_JP}.{HEADER_JP[0]}", column_range(Feedback, "evaluation_id", minimum=1))
    check_int(values[2], f"{REVIEW_JP}.{HEADER_JP[2]}", ids)
    check_int(values[3], f"{REVIEW_JP}.{HEADER_JP[3]}", ids)
    score = check_int(values[4], f"{REVIEW_JP}.{HEADER_JP[4]}", SCORE_RANGE)
    items = values[N_HEADER : N_HEADER + 20]
    for key, value in zip(REVIEW_KEYS_JP[N_HEADER:], items, strict=False):
        check_int(value, f"{REVIEW_JP}.{key}", (ITEM_MIN, ITEM_MAX))
    s1, s2, s3 = (v is not None for v in values[N_HEADER + 20 :])
    expected = compute_total(items, s1=s1, s2=s2, s3=s3)
    if score != expected:
        raise fail(ERR_SCORE_RULE, field=f"{REVIEW_JP}.{HEADER_JP[4]}", value=score, expected=expected)


def export_problem(obj: dict) -> str | None:
    """Why the importer would refuse this exported object, or None when it would accept it."""
    try:
        _check(obj)
    except DatasetFormatError as exc:
        return str(exc.message)
    return None
