"""Reads for the auto-scorer: labelled dialogues from the database, models, predictions."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Subquery

from feedback.items import ITEM_FIELDS, SCREENING_FIELDS
from roleplay.models import Message, MessageTranslation, Session, SessionStatus

from .models import Prediction, PredictionStatus, ScorerModel
from .records import LabelledDialogue, Utterance


def participant_key(user) -> str:
    """``p<dataset id>`` for dataset participants (imported accounts), ``u<pk>`` otherwise."""
    if user is None:
        return ""
    profile = getattr(user, "profile", None)
    dataset_id = getattr(profile, "dataset_id", None)
    return f"p{dataset_id}" if dataset_id is not None else f"u{user.pk}"


ORIGINAL_LANGUAGE = "ja"


def _record(session: Session, *, with_labels: bool, language: str = ORIGINAL_LANGUAGE) -> LabelledDialogue | None:
    """The session's record; with a ``language`` other than the session's own, its translated texts
    (None when a message has no translation in that language)."""
    if language == session.language:
        msgs = [Utterance(m.role, m.created_at, m.text) for m in session.messages.all()]
    else:
        msgs = [Utterance(m.role, m.created_at, m.translated) for m in session.messages.all()]
        if any(u.text is None for u in msgs):
            return None
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


def _sessions(language: str = ORIGINAL_LANGUAGE) -> QuerySet[Session]:
    messages = Message.objects.order_by("seq").only("session_id", "seq", "role", "text", "created_at")
    if language != ORIGINAL_LANGUAGE:  # the translation of each message (None when there is none)
        translated = MessageTranslation.objects.filter(message_id=OuterRef("pk"), language=language)
        messages = messages.annotate(translated=Subquery(translated.values("text")[:1]))
    return Session.objects.select_related("counselor__profile", "client__profile").prefetch_related(
        Prefetch("messages", queryset=messages)
    )


def labelled_dialogues(*, include_synthetic: bool = False, language: str = ORIGINAL_LANGUAGE) -> list[LabelledDialogue]:
    """Every ended session that has the client's feedback, oldest first (the training data).

    ``language``: the texts in that language — sessions held in it, and the translations of the
    others (Multilingual KokoroChat); a session not (fully) translated is left out. The labels are
    the same client ratings whatever the language."""
    qs = _sessions(language).select_related("feedback").filter(feedback__isnull=False).order_by("pk")
    if not include_synthetic:
        qs = qs.filter(is_synthetic=False)
    if language != ORIGINAL_LANGUAGE:
        first = MessageTranslation.objects.filter(message__session_id=OuterRef("pk"), message__seq=1, language=language)
        qs = qs.filter(Q(language=language) | Exists(first))
    else:
        qs = qs.filter(language=language)
    out = []
    for chunk_start in range(0, qs.count(), 500):
        records = (_record(s, with_labels=True, language=language) for s in qs[chunk_start : chunk_start + 500])
        out += [r for r in records if r is not None]
    return out


def session_dialogue(*, session_id: int) -> LabelledDialogue:
    """The session's own texts (in the language it was held in)."""
    session = _sessions().get(pk=session_id)
    record = _record(session, with_labels=False, language=session.language)
    assert record is not None  # its own language: never a translation
    return record


def active_scorer_model(*, backend: str, language: str = ORIGINAL_LANGUAGE) -> ScorerModel | None:
    return ScorerModel.objects.filter(backend=backend, language=language, is_active=True).first()


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
