"""Reads for the auto-scorer: labelled dialogues from the database, models, predictions."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from feedback.items import ITEM_FIELDS, SCREENING_FIELDS
from roleplay.models import Message, Session, SessionStatus

from .models import Prediction, PredictionStatus, ScorerModel
from .records import LabelledDialogue, Utterance


def participant_key(user) -> str:
    """``p<dataset id>`` for dataset participants (imported accounts), ``u<pk>`` otherwise."""
    if user is None:
        return ""
    profile = getattr(user, "profile", None)
    dataset_id = getattr(profile, "dataset_id", None)
    return f"p{dataset_id}" if dataset_id is not None else f"u{user.pk}"


def _record(session: Session, *, with_labels: bool) -> LabelledDialogue:
    msgs = [Utterance(m.role, m.created_at, m.text) for m in session.messages.all()]
    items, screening = None, (False, False, False)
    feedback = getattr(session, "feedback", None) if with_labels else None
    if feedback is not None:
        items = tuple(int(getattr(feedback, f)) for f in ITEM_FIELDS)
        screening = tuple(bool(getattr(feedback, f)) for f in SCREENING_FIELDS)
    return LabelledDialogue(
        session_key=str(session.pk),
        messages=msgs,
        items=items,
        screening=screening,  # type: ignore[arg-type]
        client_key=participant_key(session.client),
        counselor_key=participant_key(session.counselor),
        topic=session.topic,
    )


def _sessions() -> QuerySet[Session]:
    return Session.objects.select_related("counselor__profile", "client__profile").prefetch_related(
        Prefetch(
            "messages", queryset=Message.objects.order_by("seq").only("session_id", "seq", "role", "text", "created_at")
        )
    )


def labelled_dialogues(*, include_synthetic: bool = False) -> list[LabelledDialogue]:
    """Every ended session that has the client's feedback, oldest first (the training data)."""
    qs = _sessions().select_related("feedback").filter(feedback__isnull=False).order_by("pk")
    if not include_synthetic:
        qs = qs.filter(is_synthetic=False)
    out = []
    for chunk_start in range(0, qs.count(), 500):
        out += [_record(s, with_labels=True) for s in qs[chunk_start : chunk_start + 500]]
    return out


def session_dialogue(*, session_id: int) -> LabelledDialogue:
    return _record(_sessions().get(pk=session_id), with_labels=False)


def active_scorer_model(*, backend: str) -> ScorerModel | None:
    return ScorerModel.objects.filter(backend=backend, is_active=True).first()


def prediction_for_session(*, session_id: int) -> Prediction | None:
    return Prediction.objects.filter(session_id=session_id).first()


def prediction_list(*, status: str = "", source: str = "", has_feedback: str = "", q: str = "") -> QuerySet[Prediction]:
    qs = Prediction.objects.select_related(
        "session__counselor__profile", "session__client__profile", "session__feedback"
    ).order_by("-created_at")
    if status:
        qs = qs.filter(status=status)
    if source:
        qs = qs.filter(session__source=source)
    if has_feedback == "yes":
        qs = qs.filter(session__feedback__isnull=False)
    elif has_feedback == "no":
        qs = qs.filter(session__feedback__isnull=True)
    if q.isdigit():
        qs = qs.filter(session_id=int(q))
    return qs


def prediction_errors(predictions) -> dict:
    """MAE of the predicted totals and of the items, over done predictions that have feedback."""
    total_err, item_err, n = 0, 0, 0
    for p in predictions:
        fb = getattr(p.session, "feedback", None) if p.status == PredictionStatus.DONE else None
        if fb is None or len(p.items) != len(ITEM_FIELDS):
            continue
        n += 1
        total_err += abs(p.total - fb.total)
        item_err += sum(abs(a - b) for a, b in zip(p.items, fb.item_values, strict=True)) / len(ITEM_FIELDS)
    return {"count": n, "total_mae": total_err / n if n else None, "item_mae": item_err / n if n else None}


def ended_session_ids_without_prediction(limit: int = 1000) -> list[int]:
    return list(
        Session.objects.filter(status=SessionStatus.ENDED, prediction__isnull=True).values_list("pk", flat=True)[:limit]
    )
