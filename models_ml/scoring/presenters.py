"""Builds what the prediction panel shows (predicted vs actual items) from one session."""

from __future__ import annotations

from django.utils.translation import get_language

from feedback.items import ITEMS, SCREENINGS

from .models import PredictionStatus
from .selectors import prediction_for_session


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
                    "label": s.jp,
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
    return {
        "session": session,
        "prediction": prediction,
        "done": done,
        "feedback": feedback,
        "rows": rows,
        "flags": flags,
        "chart": chart,
        "item_mae": item_mae,
        "total_diff": (prediction.total - feedback.total) if done and feedback else None,
    }
