"""A translated file against the stored original: the same Japanese dialogue, then its translation.

A multilingual file whose evaluation id is stored is attached to that dialogue only when its
Japanese side is the stored one: the same number of messages, and message by message the same
role, time and text (``origin``), the same topic and review. The first difference rejects the
file with the field, both values and the id. Then the translation: none stored in that language
-> attach; the same texts -> "unchanged"; other texts -> a conflict, replaced only with ``update``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from feedback.models import Feedback
from roleplay.models import MessageTranslation

from .errors import ERR_MESSAGE_COUNT, ERR_ORIGINAL_DIFFERS, ERR_TRANSLATION_CONFLICT, fail
from .multilingual import ML_REVIEW
from .schema import ParsedDialogue, parsed_object

if TYPE_CHECKING:
    from .importer import ImportReport

_MESSAGE_FIELDS = (("role", "role"), ("time", "time"), ("utterance", "origin"))


def original_problem(file_obj: dict, stored: dict, evaluation_id: int) -> str | None:
    """Why the Japanese side of a translated file is not the stored dialogue (None: it is)."""
    mine, theirs = file_obj["dialogue"], stored["dialogue"]
    if len(mine) != len(theirs):
        error = fail(ERR_MESSAGE_COUNT, field="dialogue", value=len(mine), id=evaluation_id, expected=len(theirs))
        return str(error.message)
    pairs: list[tuple[str, Any, Any]] = []
    for n, (a, b) in enumerate(zip(mine, theirs, strict=True), start=1):
        if a != b:
            pairs += [(f"dialogue[{n}].{shown}", a[key], b[key]) for key, shown in _MESSAGE_FIELDS]
            break
    pairs += [(f"topic.{k}", v, stored["topic"][k]) for k, v in file_obj["topic"].items()]
    review = stored["review_by_client_en"]
    pairs += [(f"{ML_REVIEW}.{k}", v, review[k]) for k, v in file_obj["review_by_client_en"].items()]
    for field, value, expected in pairs:
        if value != expected or type(value) is not type(expected):
            error = fail(ERR_ORIGINAL_DIFFERS, field=field, value=value, id=evaluation_id, expected=expected)
            return str(error.message)
    return None


def compare_originals(
    items: list[tuple[str, ParsedDialogue]], report: ImportReport, *, update: bool
) -> list[tuple[str, ParsedDialogue, int, bool]]:
    """Translated files of one language whose original is stored: (name, parsed, session id,
    replace) for those to attach; the others are counted unchanged or rejected with the reason."""
    if not items:
        return []
    from .exporter import iter_dialogues  # the exporter reads through selectors; import late

    ids = [p.evaluation_id for _n, p in items]
    language = items[0][1].language
    qs = Feedback.objects.filter(evaluation_id__in=ids)
    stored = dict(iter_dialogues(qs))
    sessions = dict(qs.values_list("evaluation_id", "session_id"))
    existing: dict[int, list[tuple[int, str]]] = {}
    rows = (
        MessageTranslation.objects.filter(message__session_id__in=sessions.values(), language=language)
        .order_by("message__session_id", "message__seq")
        .values_list("message__session_id", "message__seq", "text")
    )
    for sid, seq, text in rows:
        existing.setdefault(sid, []).append((seq, text))
    out = []
    for name, parsed in items:
        eid = parsed.evaluation_id
        problem = original_problem(parsed_object(parsed), stored[eid], eid) if eid in stored else None
        if problem is not None:
            report.reject(name, problem)
            continue
        sid = sessions[eid]
        have = existing.get(sid)
        if not have:
            out.append((name, parsed, sid, False))
        elif have == list(enumerate(parsed.translation or (), start=1)):
            report.unchanged += 1
        elif update:
            out.append((name, parsed, sid, True))
        else:
            report.reject(name, str(ERR_TRANSLATION_CONFLICT) % {"value": eid, "language": language})
    return out
