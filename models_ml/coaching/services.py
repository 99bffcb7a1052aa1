"""Writes of the coaching app: suggestion runs (what the AI counselor would have said), live coaching."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from models_ml.llm.backends import get_backend
from models_ml.llm.backends.base import GenerationBackend, GenerationError
from models_ml.partners.selectors import NoModelError, generation_backend_config
from roleplay.models import Message, Role, Session
from roleplay.notify import session_notify

from . import selectors
from .models import CoachingSettings, RunStatus, SuggestionRun
from .signals_text import live_hints, session_stats

logger = logging.getLogger(__name__)

ERR_TIME_LIMIT = _("Computing the suggestions took too long and was stopped.")
ERR_GENERATION = _("The generation model failed: %(detail)s")
MIN_MESSAGES_TO_SCORE = 4  # the scorer's own minimum (models_ml.services), at least one message per side


class CoachingError(Exception):
    def __init__(self, message: Any) -> None:
        super().__init__(str(message))
        self.message = message


def debounce_s() -> float:
    return float(getattr(settings, "KOKORO_COACHING_DEBOUNCE_S", 1.5))


def _queue_name(config: dict[str, Any] | None) -> str:
    return "gpu" if (config or {}).get("backend") == "hf" else "default"


# --- suggestions ------------------------------------------------------------------------------
def _backend_config() -> dict[str, Any] | None:
    try:
        return generation_backend_config(kind="counselor")
    except NoModelError:
        return None


@transaction.atomic
def suggestion_run_ensure(*, session: Session) -> SuggestionRun:
    """The session's run; created (and queued after commit) on first use. Without a generation model it is
    stored as ``unavailable`` (checked again by ``suggestion_run_restart``)."""
    run = SuggestionRun.objects.select_for_update().filter(session=session).first()
    if run is not None:
        return run
    return _start(session=session, run=SuggestionRun(session=session))


@transaction.atomic
def suggestion_run_restart(*, session: Session) -> SuggestionRun:
    """Compute again (after a failure, a new model, or when a model became available). An active run is kept."""
    run = SuggestionRun.objects.select_for_update().filter(session=session).first()
    if run is not None and run.active:
        return run
    return _start(session=session, run=run or SuggestionRun(session=session))


def _start(*, session: Session, run: SuggestionRun) -> SuggestionRun:
    config = _backend_config()
    run.done, run.suggestions, run.error, run.finished_at = 0, {}, "", None
    run.total = len(selectors.suggestion_turns(selectors.session_messages(session_id=session.pk)))
    run.backend = (config or {}).get("backend", "") or ""
    if config is None:
        run.status = RunStatus.UNAVAILABLE
        run.finished_at = timezone.now()
        run.save()
        return run
    run.status = RunStatus.PENDING
    run.save()
    run_id, queue = run.pk, _queue_name(config)
    transaction.on_commit(lambda: _dispatch_suggestions(run_id=run_id, queue=queue))
    return run


def _dispatch_suggestions(*, run_id: int, queue: str) -> None:
    from .tasks import compute_suggestions

    compute_suggestions.apply_async(args=[run_id], queue=queue)


_backend_lock = threading.Lock()
_backend_cache: dict[str, GenerationBackend] = {}


def _backend(config: dict[str, Any]) -> GenerationBackend:
    key = json.dumps(config, sort_keys=True, default=str)
    with _backend_lock:
        if key not in _backend_cache:
            _backend_cache.clear()  # one model per worker process at a time
            _backend_cache[key] = get_backend(config)
        return _backend_cache[key]


def backend_cache_clear() -> None:
    with _backend_lock:
        _backend_cache.clear()


def _run_update(run_id: int, **fields: Any) -> None:
    SuggestionRun.objects.filter(pk=run_id).update(updated_at=timezone.now(), **fields)


def suggestion_run_compute(*, run_id: int) -> SuggestionRun:
    """Generate the AI counselor's reply at each counselor turn; progress is stored after every turn."""
    from models_ml.llm.partners import ai_counselor_reply

    run = SuggestionRun.objects.select_related("session").get(pk=run_id)
    if run.status not in (RunStatus.PENDING, RunStatus.RUNNING):
        return run
    config = _backend_config()
    if config is None:
        _run_update(run_id, status=RunStatus.UNAVAILABLE, finished_at=timezone.now())
        return SuggestionRun.objects.get(pk=run_id)
    turns = selectors.suggestion_turns(selectors.session_messages(session_id=run.session_id))
    _run_update(run_id, status=RunStatus.RUNNING, total=len(turns), done=0, backend=config.get("backend", ""))
    suggestions: dict[str, str] = {}
    try:
        backend = _backend(config)
        for n, (seq, history) in enumerate(turns, start=1):
            suggestions[str(seq)] = ai_counselor_reply(backend, history).text
            _run_update(run_id, done=n, suggestions=suggestions)
    except (GenerationError, OSError, ValueError) as exc:
        logger.warning("coaching: suggestions for run %s failed: %s", run_id, exc)
        _run_update(
            run_id, status=RunStatus.FAILED, error=str(ERR_GENERATION % {"detail": exc}), finished_at=timezone.now()
        )
        return SuggestionRun.objects.get(pk=run_id)
    _run_update(run_id, status=RunStatus.DONE, finished_at=timezone.now())
    return SuggestionRun.objects.get(pk=run_id)


def suggestion_run_fail(*, run_id: int, message: str) -> None:
    SuggestionRun.objects.filter(pk=run_id, status__in=(RunStatus.PENDING, RunStatus.RUNNING)).update(
        status=RunStatus.FAILED, error=message, finished_at=timezone.now(), updated_at=timezone.now()
    )


# --- live coaching ----------------------------------------------------------------------------
@transaction.atomic
def coaching_settings_set(*, session: Session, user, enabled: bool) -> CoachingSettings:
    """The counselor turns live coaching on/off for this session (turning it on computes the panel now)."""
    row, _created = CoachingSettings.objects.select_for_update().get_or_create(
        session=session, defaults={"enabled": enabled, "updated_by": user}
    )
    row.enabled, row.updated_by = enabled, user
    row.save(update_fields=["enabled", "updated_by", "updated_at"])
    if enabled:
        session_id, seq = session.pk, session.last_seq
        transaction.on_commit(lambda: live_coaching_queue(session_id=session_id, seq=seq, countdown=0))
    return row


def live_coaching_queue(*, session_id: int, seq: int, countdown: float | None = None) -> None:
    from .tasks import live_coach

    delay = debounce_s() if countdown is None else countdown
    live_coach.apply_async(args=[session_id, seq], countdown=delay or None)


def _score(dialogue) -> tuple[int | None, str]:
    from models_ml.scoring.base import ScorerError, get_scorer
    from models_ml.services import scorer_backend

    try:
        return get_scorer(scorer_backend()).predict(dialogue).total, ""
    except ScorerError as exc:
        return None, str(exc)


def live_coaching_compute(*, session_id: int, seq: int) -> dict | None:
    """Panel state after the counselor's message ``seq``; skipped (None) when live coaching is off or a
    newer counselor message is already there (debounce: the newer message's task does the work)."""
    if not selectors.live_enabled(session_id=session_id):
        return None
    from models_ml.selectors import session_dialogue

    newer = Message.objects.filter(session_id=session_id, role=Role.COUNSELOR, seq__gt=seq).exists()
    if newer or not Session.objects.filter(pk=session_id).exists():
        return None

    messages = selectors.session_messages(session_id=session_id)
    turns = selectors.session_turns(messages)
    stats = session_stats(turns)
    roles = {m.role for m in messages}
    state: dict[str, Any] = {
        "type": "coaching",
        "session_id": session_id,
        "seq": seq,
        "hints": live_hints(turns),
        "question_ratio": stats.question_ratio,
        "reflection_ratio": stats.reflection_ratio,
        "status": "ok",
        "reason": "",
        "total": None,
    }
    row, _created = CoachingSettings.objects.get_or_create(session_id=session_id, defaults={"enabled": True})
    trend = [p for p in row.trend if p.get("seq", 0) < seq]
    if len(messages) < MIN_MESSAGES_TO_SCORE or roles != {Role.COUNSELOR, Role.CLIENT}:
        state["status"] = "too_few"
    else:
        total, reason = _score(session_dialogue(session_id=session_id))
        if total is None:
            state["status"], state["reason"] = "no_model", reason
        else:
            state["total"] = total
            trend.append({"seq": seq, "total": total})
    state["trend"] = [p["total"] for p in trend[-20:]]
    CoachingSettings.objects.filter(pk=row.pk).update(state=state, trend=trend[-50:], updated_at=timezone.now())
    try:
        session_notify(session_id=session_id, event=state, audience=(Role.COUNSELOR.value,))
    except Exception:  # the pushed frame is a hint; the stored state is the truth
        logger.exception("coaching: could not notify session %s", session_id)
    return state
