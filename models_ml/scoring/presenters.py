"""Builds what the prediction panel shows (predicted vs actual items) from one session."""

from __future__ import annotations

import re

from django.utils.functional import Promise
from django.utils.translation import get_language, gettext

from feedback.items import ITEMS, SCREENINGS

from .models import PredictionStatus
from .selectors import prediction_for_session


def _reason_templates() -> list[tuple[re.Pattern, str]]:
    """(pattern of the English source text, msgid) of every stored scorer reason."""
    from . import artifacts, backends, base, llm_scorer, services, tasks

    out = []
    for module in (base, backends, artifacts, llm_scorer, services, tasks):
        for name, value in vars(module).items():
            if name.startswith("ERR_") and isinstance(value, Promise):
                msgid = value._args[0]  # the untranslated source text of a gettext_lazy constant
                pattern = re.sub(r"%\\\(([a-z_]+)\\\)s", lambda m: f"(?P<{m.group(1)}>.*)", re.escape(msgid))
                out.append((re.compile(pattern, re.S), msgid))
    return out


def reason_text(reason: str) -> str:
    """A stored prediction reason in the reader's language.

    Reasons are stored as the English source text (``prediction_run`` formats them with English
    active); a known message is translated when shown, an unknown one (a library's error) as is.
    """
    if not reason:
        return ""
    for pattern, msgid in _reason_templates():
        match = pattern.fullmatch(reason)
        if match:
            return gettext(msgid) % match.groupdict() if match.groupdict() else gettext(msgid)
    return reason


def item_label(item) -> str:
    return item.jp if (get_language() or "ja").startswith("ja") else item.en.replace("_", " ").capitalize()


def panel_context(session) -> dict:
    prediction = prediction_for_session(session_id=session.pk)
    feedback = getattr(session, "feedback", None)  # RelatedObjectDoesNotExist is an AttributeError
    done = prediction is not None and prediction.status == PredictionStatus.DONE and len(prediction.items) == len(ITEMS)
    rows = []
    if done:
        actual = feedback.item_values if feedback else [None] * len(ITEMS)
        for item, pred, act in zip(ITEMS, prediction.items, actual, strict=True):
            rows.append(
                {
                    "number": item.number,
                    "label": item_label(item),
                    "predicted": pred,
                    "actual": act,
                    "diff": None if act is None else pred - act,
                }
            )
    flags = []
    if done:
        for s in SCREENINGS:
            flags.append(
                {
                    "code": s.code,
                    "label": s.label,
                    "probability": prediction.screening.get(s.code, 0.0),
                    "flagged": bool(prediction.flags.get(s.code)),
                }
            )
    chart = None
    if done:
        chart = {
            "labels": [str(r["number"]) for r in rows],
            "predicted": [r["predicted"] for r in rows],
            "actual": [r["actual"] for r in rows] if feedback else None,
        }
    item_mae = None
    if done and feedback:
        item_mae = sum(abs(r["diff"]) for r in rows) / len(rows)
    training = None
    if prediction is not None and prediction.status == PredictionStatus.WAITING:
        from .models import ScorerTrainingJob

        training = ScorerTrainingJob.objects.filter(status__in=("queued", "running")).order_by("-pk").first()
    return {
        "session": session,
        "prediction": prediction,
        "training": training,
        "done": done,
        "feedback": feedback,
        "rows": rows,
        "flags": flags,
        "chart": chart,
        "item_mae": item_mae,
        "total_diff": (prediction.total - feedback.total) if done and feedback else None,
    }
