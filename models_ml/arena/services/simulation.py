"""Simulated sessions: an AI client (role card) and an AI counselor talk through roleplay's services."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F

from models_ml.finetuning.models import ModelKind, RoleCard
from models_ml.jobs.services import job_count, job_progress
from models_ml.llm.backends import GenerationError
from models_ml.llm.partners import ai_client_reply, ai_counselor_reply
from roleplay.models import EndReason, Session, SessionSource, SessionStatus
from roleplay.services.chat import message_create
from roleplay.services.sessions import session_end, session_start_now

from .. import metrics, selectors
from .. import protocol as sim
from ..models import (
    JobStatus,
    SimulatedSession,
    SimulationJob,
)
from .common import (
    ERR_CARD_LANGUAGE,
    ERR_JOB_FAILED,
    ERR_MAX_TURNS,
    ERR_NO_CARDS,
    ERR_SESSIONS_PER_CARD,
    ERR_SIM_LANGUAGE,
    ERR_TURN_FAILED,
    MAX_SESSIONS_PER_CARD,
    MAX_TURNS,
    SIM_CLIENT_KEY,
    SIM_SESSION_MINUTES,
    ArenaError,
    _check_version,
    _claim,
    _counselor_bot,
    _dispatch,
    _finish,
    _queue,
    backend_for,
    closing_phrases,
    sim_bot_get_or_create,
    turn_retries,
    with_retries,
)

logger = logging.getLogger(__name__)
SIM_LANGUAGES = ("ja", "en")


# --- simulation --------------------------------------------------------------------------------------


@transaction.atomic
def simulation_job_create(
    *,
    role_card_ids: list[int],
    sessions_per_card: int = 1,
    max_turns: int = MAX_TURNS,
    client_version_id: int | None = None,
    counselor_version_id: int | None = None,
    created_by: Any = None,
    language: str = "ja",
) -> SimulationJob:
    """``language`` "en": English sessions (``Session.language``), English role cards only, English prompts,
    the English retrieval partners when no model is chosen."""
    if language not in SIM_LANGUAGES:
        raise ArenaError(message=ERR_SIM_LANGUAGE % {"language": language})
    if not 1 <= int(sessions_per_card) <= MAX_SESSIONS_PER_CARD:
        raise ArenaError(message=ERR_SESSIONS_PER_CARD % {"max": MAX_SESSIONS_PER_CARD})
    if not 2 <= int(max_turns) <= MAX_TURNS:
        raise ArenaError(message=ERR_MAX_TURNS % {"max": MAX_TURNS})
    cards = list(RoleCard.objects.filter(pk__in=role_card_ids or [], is_active=True).order_by("pk"))
    if not cards:
        raise ArenaError(message=ERR_NO_CARDS)
    other = [c.name for c in cards if c.language != language]
    if other:
        raise ArenaError(message=ERR_CARD_LANGUAGE % {"language": language, "cards": ", ".join(other)})
    client = _check_version(client_version_id, ModelKind.CLIENT)
    counselor = _check_version(counselor_version_id, ModelKind.COUNSELOR)
    job = SimulationJob.objects.create(
        client_version=client,
        counselor_version=counselor,
        sessions_per_card=sessions_per_card,
        max_turns=max_turns,
        language=language,
        total=len(cards) * sessions_per_card,
        created_by=created_by,
    )
    job.role_cards.set(cards)
    SimulatedSession.objects.bulk_create(
        SimulatedSession(job=job, role_card=card, index=i * sessions_per_card + k)
        for i, card in enumerate(cards)
        for k in range(sessions_per_card)
    )
    _dispatch("run_simulation", job.pk, queue=_queue(client, counselor))
    return job


def _new_sim_session(job: SimulationJob) -> Session:
    return session_start_now(
        counselor=_counselor_bot(job.counselor_version),
        client=sim_bot_get_or_create(key=SIM_CLIENT_KEY, display_name="AI client", ai_role="client"),
        source=SessionSource.SIMULATED,
        is_synthetic=True,
        duration_minutes=SIM_SESSION_MINUTES,
        language=job.language,
    )


def _append(session: Session, role: str, text: str) -> None:
    """One simulated turn, through roleplay's ``message_create`` (same seq allocation and lock as people)."""
    sender = session.counselor if role == "counselor" else session.client
    message_create(session_id=session.pk, user=sender, text=text[: settings.KOKORO_MAX_MESSAGE_CHARS], rate_limit=False)


def _end_session(session: Session, *, status: str, reason: str) -> None:
    session_end(session=session, reason=reason, cancelled=status == SessionStatus.CANCELLED)


def simulate_one(*, job: SimulationJob, item: SimulatedSession) -> None:
    """One whole simulated session; a turn that still fails after the retries fails the session (recorded)."""
    card = item.role_card.to_core()
    language = job.language
    client = backend_for(kind=ModelKind.CLIENT, version=job.client_version, language=language)
    counselor = backend_for(kind=ModelKind.COUNSELOR, version=job.counselor_version, language=language)
    phrases = closing_phrases(language)
    session = _new_sim_session(job)
    item.session, item.status = session, JobStatus.RUNNING
    item.save(update_fields=["session", "status"])
    history: list[dict[str, str]] = []
    tries = turn_retries()
    while len(history) < job.max_turns:
        role = "client" if len(history) % 2 == 0 else "counselor"  # the client greets first
        try:
            if role == "client":
                text = with_retries(
                    lambda: ai_client_reply(client, card, history, **sim.client_params(language)).text, tries=tries
                )
                closing = None
            else:
                reply = with_retries(
                    lambda: ai_counselor_reply(
                        counselor, history, closing_phrases=phrases, **sim.counselor_params(language)
                    ),
                    tries=tries,
                )
                text, closing = reply.text, reply.closing_phrase
        except GenerationError as exc:
            detail = ERR_TURN_FAILED % {"turn": len(history) + 1, "tries": tries, "detail": exc}
            item.status, item.error, item.turns = JobStatus.FAILED, str(detail), len(history)
            item.save(update_fields=["status", "error", "turns"])
            _end_session(session, status=SessionStatus.CANCELLED, reason=EndReason.ADMIN)
            return
        history.append({"role": role, "text": text})
        _append(session, role, text)
        job_progress(model=SimulationJob, job_id=job.pk, turns=F("turns") + 1)
        item.turns = len(history)
        item.save(update_fields=["turns"])
        if closing:
            item.end, item.closing_phrase = "closing", closing
            break
    else:
        item.end = "max_turns"
    item.status = JobStatus.SUCCEEDED
    item.fidelity = metrics.fidelity_eq1(
        selectors.role_card_text(item.role_card), "\n".join(t["text"] for t in history if t["role"] == "client")
    )
    item.save(update_fields=["status", "end", "closing_phrase", "fidelity"])
    reason = EndReason.COUNSELOR if item.end == "closing" else EndReason.TIME_UP
    _end_session(session, status=SessionStatus.ENDED, reason=reason)


def simulation_job_execute(*, job_id: int) -> str:
    job = _claim(SimulationJob, job_id)
    if job is None:
        return "skipped"
    try:
        for item in job.items.select_related("role_card").filter(status=JobStatus.QUEUED):
            if item.role_card is None:
                item.status, item.error = JobStatus.FAILED, "role card deleted"
                item.save(update_fields=["status", "error"])
            else:
                simulate_one(job=job, item=item)
            if not job_count(
                model=SimulationJob, job_id=job.pk, field="done" if item.status == JobStatus.SUCCEEDED else "failed"
            ):
                break  # cancelled from its page (or reaped): no further session
        job.refresh_from_db()
        _finish(job, fidelity=selectors.job_fidelity(job))
    except Exception as exc:
        logger.exception("simulation job %s failed", job_id)
        _finish(job, error=str(ERR_JOB_FAILED % {"detail": exc}))
    return job.status


__all__ = [
    "simulate_one",
    "simulation_job_create",
    "simulation_job_execute",
]
