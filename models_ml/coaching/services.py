"""Writes of the coaching app: suggestion runs (what the AI counselor would have said), live coaching."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kokoro_site.errors import ServiceError
from models_ml.finetuning.selectors import NoModelError, generation_backend_config
from models_ml.jobs.cache import cached_backend, model_cache
from models_ml.jobs.models import JobStatus
from models_ml.jobs.services import job_claim, job_dispatch, job_fail, job_finish, job_notify, job_progress
from models_ml.llm.backends.base import GenerationBackend, GenerationError
from roleplay.models import Message, Role, Session
from roleplay.notify import session_interest_changed, session_notify

from . import selectors
from .models import CODE_UNAVAILABLE, CoachingSettings, SuggestionRun
from .signals_text import live_hints, session_stats

logger = logging.getLogger(__name__)

ERR_TIME_LIMIT = _("Computing the suggestions took too long and was stopped.")
ERR_GENERATION = _("The generation model failed: %(detail)s")
MIN_MESSAGES_TO_SCORE = 4  # the scorer's own minimum (models_ml.scoring.services), at least one message per side


class CoachingError(ServiceError):
    """A refused coaching action."""


def debounce_s() -> float:
    return float(settings.KOKORO_COACHING_DEBOUNCE_S)


def _queue_name(config: dict[str, Any] | None) -> str:
    return "gpu" if (config or {}).get("backend") == "hf" else "default"


# --- suggestions ------------------------------------------------------------------------------
def _backend_config(language: str = "ja") -> dict[str, Any] | None:
    """The counselor model of the session's language: an English session is coached by the English partner
    (``build_retrieval_index --language en`` or an active English version); none → ``unavailable``."""
    try:
        return generation_backend_config(kind="counselor", language=language)
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
    config = _backend_config(session.language)
    run.done, run.failed, run.progress, run.suggestions = 0, 0, 0, {}
    run.error, run.error_code, run.message, run.finished_at = "", "", "", None
    run.total = len(selectors.suggestion_turns(selectors.session_messages(session_id=session.pk)))
    run.backend = (config or {}).get("backend", "") or ""
    if config is None:
        run.status, run.error_code = JobStatus.FAILED, CODE_UNAVAILABLE
        run.finished_at = timezone.now()
        run.save()
        return run
    run.status = JobStatus.QUEUED
    run.save()
    job_notify(model=SuggestionRun, job_id=run.pk)
    _dispatch_suggestions(run_id=run.pk, queue=_queue_name(config))
    return run


def _dispatch_suggestions(*, run_id: int, queue: str) -> None:
    """After commit; embedded mode: inline at commit (a short job)."""
    from .tasks import compute_suggestions

    job_dispatch(task=compute_suggestions, args=[run_id], queue=queue, embedded_thread=False)


def _backend(config: dict[str, Any]) -> GenerationBackend:
    """The process's copy of the model (models_ml.jobs model cache, shared with practice and arena)."""
    return cached_backend(config)


def backend_cache_clear() -> None:
    model_cache().clear()


def _run_update(run_id: int, **fields: Any) -> None:
    """Progress of a running run (also its heartbeat)."""
    job_progress(model=SuggestionRun, job_id=run_id, updated_at=timezone.now(), **fields)


def suggestion_run_compute(*, run_id: int, task_id: str = "", hostname: str = "") -> SuggestionRun:
    """Generate the AI counselor's reply at each counselor turn; progress is stored after every turn."""
    from models_ml.llm.partners import ai_counselor_reply

    run = SuggestionRun.objects.select_related("session").get(pk=run_id)
    if run.status != JobStatus.QUEUED:  # finished, or already claimed by another delivery
        return run
    language = run.session.language
    config = _backend_config(language)
    if config is None:
        job_fail(model=SuggestionRun, job_id=run_id, reason="", code=CODE_UNAVAILABLE)
        return SuggestionRun.objects.get(pk=run_id)
    if job_claim(model=SuggestionRun, job_id=run_id, task_id=task_id, hostname=hostname) is None:
        return SuggestionRun.objects.get(pk=run_id)
    turns = selectors.suggestion_turns(selectors.session_messages(session_id=run.session_id))
    _run_update(run_id, total=len(turns), done=0, backend=config.get("backend", ""))
    suggestions: dict[str, str] = {}
    try:
        backend = _backend(config)
        for n, (seq, history) in enumerate(turns, start=1):
            # A line suggested earlier in this review is not suggested again (few indexed replies: demo data).
            reply = ai_counselor_reply(backend, history, avoid=set(suggestions.values()), language=language)
            suggestions[str(seq)] = reply.text
            _run_update(run_id, done=n, suggestions=suggestions, progress=round(100 * n / len(turns)))
    except (GenerationError, OSError, ValueError) as exc:
        logger.warning("coaching: suggestions for run %s failed: %s", run_id, exc)
        job_fail(model=SuggestionRun, job_id=run_id, reason=str(ERR_GENERATION % {"detail": exc}), code="generation")
        return SuggestionRun.objects.get(pk=run_id)
    job_finish(model=SuggestionRun, job_id=run_id)
    return SuggestionRun.objects.get(pk=run_id)


def suggestion_run_fail(*, run_id: int, message: str) -> None:
    job_fail(model=SuggestionRun, job_id=run_id, reason=message)


def suggestions_stale_after_s() -> float:
    """A running suggestions job is killed at its hard time limit (930 s); silent longer → its worker is lost."""
    return 20 * 60.0


# --- live coaching ----------------------------------------------------------------------------
@transaction.atomic
def coaching_settings_set(*, session: Session, user, enabled: bool) -> CoachingSettings:
    """The counselor turns live coaching on/off for this session (turning it on computes the panel now)."""
    row, _created = CoachingSettings.objects.select_for_update().get_or_create(
        session=session, defaults={"enabled": enabled, "updated_by": user}
    )
    row.enabled, row.updated_by = enabled, user
    row.save(update_fields=["enabled", "updated_by", "updated_at"])
    session_interest_changed(session_id=session.pk)  # the chat sockets re-ask whether we want the messages
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
    from models_ml.scoring.services import scorer_backend

    try:
        return get_scorer(scorer_backend()).predict(dialogue).total, ""
    except ScorerError as exc:
        return None, str(exc)


def live_coaching_compute(*, session_id: int, seq: int) -> dict | None:
    """Panel state after the counselor's message ``seq``; skipped (None) when live coaching is off or a
    newer counselor message is already there (debounce: the newer message's task does the work)."""
    if not selectors.live_enabled(session_id=session_id):
        return None
    from models_ml.scoring.selectors import session_dialogue

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
