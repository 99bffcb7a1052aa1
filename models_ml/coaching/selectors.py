"""Reads of the coaching app: access, timelines, per-session signals, the High-score reference, progress."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from feedback.items import ITEM_FIELDS, ITEMS
from models_ml.scoring.models import PredictionStatus
from roleplay.models import Message, Session, SessionSource, SessionStatus

from .models import CoachingSettings, ReferenceStats, SessionSignals, SuggestionRun
from .signals_text import RULES_VERSION, Turn, analyse, percentile, session_stats

HIGH_MIN, HIGH_MAX = 70, 98  # the dataset's High subset (partners' retrieval uses the same bounds)
REFERENCE_KEY = "high_imported_v" + RULES_VERSION
REFERENCE_MAX_SESSIONS = 400  # evenly spread sample: bounded cost on the full dataset (~6.6k sessions)
REFERENCE_FIELDS = ("question_ratio", "reflection_ratio", "reflection_to_question", "mean_response_s", "mean_length")


# --- access -----------------------------------------------------------------------------------
def timeline_session_get(*, session_id: int, user) -> Session:
    """An ended session the user reviews: its counselor or staff; anyone else (the client included) gets 404."""
    session = (
        Session.objects.select_related("counselor__profile", "client__profile")
        .filter(pk=session_id, status=SessionStatus.ENDED)
        .first()
    )
    if session is None or not user.is_authenticated:
        raise Http404
    if not (user.is_staff or session.counselor_id == user.pk):
        raise Http404
    return session


def live_session_get(*, session_id: int, user) -> Session:
    """The session's counselor only (the live panel is never shown to the client or observers)."""
    session = Session.objects.filter(pk=session_id).first()
    if session is None or not user.is_authenticated or session.counselor_id != user.pk:
        raise Http404
    return session


# --- live coaching settings -------------------------------------------------------------------
def ai_is_counselor(session_id: int) -> bool:
    """AI practice session whose counselor is the AI (the trainee plays the client): nobody to coach."""
    from models_ml.practice.selectors import practice_for_session

    practice = practice_for_session(session_id=session_id)
    return practice is not None and practice.ai_role == "counselor"


def live_enabled_default(session: Session) -> bool:
    """On by default for AI practice sessions (trainee as counselor), off for human–human role-plays."""
    return session.source == SessionSource.AI and not ai_is_counselor(session.pk)


def coaching_settings_for(*, session: Session) -> CoachingSettings:
    """The stored settings, or an unsaved default row."""
    row = CoachingSettings.objects.filter(session=session).first()
    return row or CoachingSettings(session=session, enabled=live_enabled_default(session))


def live_enabled(*, session_id: int, source: str | None = None) -> bool:
    # Asked for every counselor message (a receiver of message_created): plain SQL, without the
    # ORM's query building (about a third of a millisecond of CPU per message, issue 19).
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT enabled FROM {CoachingSettings._meta.db_table} WHERE session_id = %s", [session_id])
        found = cursor.fetchone()
    row = None if found is None else found[0]
    if row is not None:
        return row and not ai_is_counselor(session_id)
    if source is not None and source != SessionSource.AI:  # off by default outside AI practice
        return False
    session = Session.objects.filter(pk=session_id).only("source").first()
    return bool(session and live_enabled_default(session))


# --- signals ----------------------------------------------------------------------------------
def session_messages(*, session_id: int) -> list[Message]:
    return list(Message.objects.filter(session_id=session_id).order_by("seq"))


def session_turns(messages: list[Message]) -> list[Turn]:
    return analyse((m.role, m.created_at, m.text) for m in messages)


def session_signal_stats(*, session: Session) -> dict:
    """Per-session summary (question ratio, ...), cached in SessionSignals until new messages arrive."""
    cached = SessionSignals.objects.filter(session=session).first()
    if cached and cached.last_seq == session.last_seq and cached.rules_version == RULES_VERSION:
        return cached.stats
    stats = session_stats(session_turns(session_messages(session_id=session.pk))).as_dict()
    SessionSignals.objects.update_or_create(
        session=session,
        defaults={
            "last_seq": session.last_seq,
            "rules_version": RULES_VERSION,
            "stats": stats,
            "computed_at": timezone.now(),
        },
    )
    return stats


def high_imported_sessions() -> QuerySet[Session]:
    return Session.objects.filter(
        source=SessionSource.IMPORTED, feedback__total__gte=HIGH_MIN, feedback__total__lte=HIGH_MAX
    ).order_by("pk")


def reference_stats() -> ReferenceStats | None:
    """The distribution over imported High sessions; recomputed when their number changed. None when none."""
    ids = list(high_imported_sessions().values_list("pk", flat=True))
    if not ids:
        return None
    row = ReferenceStats.objects.filter(key=REFERENCE_KEY).first()
    if row is not None and row.source_count == len(ids):
        return row
    step = max(1, len(ids) // REFERENCE_MAX_SESSIONS)
    sample = ids[::step][:REFERENCE_MAX_SESSIONS]
    values: dict[str, list[float]] = {f: [] for f in REFERENCE_FIELDS}
    by_session: dict[int, list[Message]] = {pk: [] for pk in sample}
    for m in (
        Message.objects.filter(session_id__in=sample)
        .order_by("session_id", "seq")
        .only("session_id", "role", "text", "created_at")
    ):
        by_session[m.session_id].append(m)
    for msgs in by_session.values():
        stats = session_stats(session_turns(msgs)).as_dict()
        for f in REFERENCE_FIELDS:
            if stats[f] is not None:
                values[f].append(stats[f])
    row, _ = ReferenceStats.objects.update_or_create(
        key=REFERENCE_KEY,
        defaults={
            "source_count": len(ids),
            "sample_size": len(sample),
            "data": {f: sorted(v) for f, v in values.items()},
            "computed_at": timezone.now(),
        },
    )
    return row


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    n = len(values)
    return values[n // 2] if n % 2 else round((values[n // 2 - 1] + values[n // 2]) / 2, 4)


def compare_with_reference(stats: dict, reference: ReferenceStats | None) -> list[dict]:
    rows = []
    for f in REFERENCE_FIELDS:
        ref = (reference.data.get(f) if reference else None) or []
        rows.append(
            {"key": f, "value": stats.get(f), "percentile": percentile(stats.get(f), ref), "median": _median(ref)}
        )
    return rows


# --- the timeline page ------------------------------------------------------------------------
@dataclass
class TimelineRow:
    seq: int
    role: str
    text: str
    created_at: object
    signals: object
    response_s: float | None
    opens_turn: bool
    suggestion: str | None


def timeline(*, session: Session, run: SuggestionRun | None) -> dict:
    messages = session_messages(session_id=session.pk)
    turns = session_turns(messages)
    suggestions = (run.suggestions if run else None) or {}
    rows = [
        TimelineRow(
            seq=m.seq,
            role=m.role,
            text=m.text,
            created_at=m.created_at,
            signals=t.signals,
            response_s=t.response_s,
            opens_turn=t.opens_turn,
            suggestion=suggestions.get(str(m.seq)),
        )
        for m, t in zip(messages, turns, strict=True)
    ]
    stats = session_stats(turns).as_dict()
    reference = reference_stats()
    return {
        "rows": rows,
        "stats": stats,
        "comparison": compare_with_reference(stats, reference),
        "reference": reference,
        "counselor_turns": sum(1 for t in turns if t.opens_turn),
    }


def suggestion_run_for(*, session_id: int) -> SuggestionRun | None:
    return SuggestionRun.objects.filter(session_id=session_id).first()


def suggestion_turns(messages: list[Message]) -> list[tuple[int, list[dict[str, str]]]]:
    """(seq of the counselor message opening a turn, the history before it) for every turn to suggest."""
    out = []
    history: list[dict[str, str]] = []
    for m, t in zip(messages, session_turns(messages), strict=True):
        if t.opens_turn:
            out.append((m.seq, list(history)))
        history.append({"role": m.role, "text": m.text})
    return out


# --- progress over sessions -------------------------------------------------------------------
def counselor_skill_progress(*, user) -> dict | None:
    """Per ended session in the counselor role: signals, predicted vs actual totals; item means both ways."""
    sessions = list(
        Session.objects.filter(counselor=user, status=SessionStatus.ENDED)
        # Human role-plays only: AI practice and simulations would blur the skill trends.
        .filter(source=SessionSource.LIVE)
        .select_related("feedback", "prediction")
        .order_by("ended_at", "pk")
    )
    if not sessions:
        return None
    labels, qr, rr, rt, predicted, actual, links = [], [], [], [], [], [], []
    pred_items: list[list[int]] = []
    actual_items: list[list[int]] = []
    for n, s in enumerate(sessions, start=1):
        stats = session_signal_stats(session=s)
        labels.append(f"#{n} {timezone.localtime(s.ended_at or s.starts_at):%m/%d}")
        qr.append(stats["question_ratio"])
        rr.append(stats["reflection_ratio"])
        rt.append(stats["mean_response_s"])
        pred = getattr(s, "prediction", None)
        done = pred is not None and pred.status == PredictionStatus.DONE and len(pred.items) == len(ITEMS)
        predicted.append(pred.total if done else None)
        if done:
            pred_items.append(pred.items)
        fb = getattr(s, "feedback", None)
        actual.append(fb.total if fb else None)
        if fb:
            actual_items.append([getattr(fb, f) for f in ITEM_FIELDS])
        links.append(s.pk)

    def means(rows: list[list[int]]) -> list[float | None]:
        return [round(sum(r[i] for r in rows) / len(rows), 2) if rows else None for i in range(len(ITEMS))]

    rows = [
        {
            "label": lb,
            "session": pk,
            "question_ratio": q,
            "reflection_ratio": r,
            "response_s": t,
            "predicted": p,
            "actual": a,
        }
        for lb, pk, q, r, t, p, a in zip(labels, links, qr, rr, rt, predicted, actual, strict=True)
    ]
    return {
        "count": len(sessions),
        "rows": rows,
        "labels": labels,
        "sessions": links,
        "question_ratio": qr,
        "reflection_ratio": rr,
        "response_s": rt,
        "predicted_total": predicted,
        "actual_total": actual,
        "item_labels": [f"{i.number}" for i in ITEMS],
        "predicted_items": means(pred_items),
        "actual_items": means(actual_items),
    }
