"""The AI partner's reply: queue (debounced), claim, generate and stream, store through roleplay, fail, reap."""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connections, transaction
from django.urls import reverse
from django.utils import timezone

from models_ml.finetuning.selectors import NoModelError, generation_backend_config
from models_ml.finetuning.services import PartnersError, retrieval_index_build
from models_ml.jobs.cache import cached_backend, model_cache
from models_ml.jobs.services import CODE_WORKER_LOST
from models_ml.llm.backends import (
    EndpointUnreachableError,
    GenerationBackend,
    GenerationError,
    GenerationTimeoutError,
    ModelNotFoundError,
)
from models_ml.llm.data import ROLE_COUNSELOR
from models_ml.llm.partners import ai_client_reply, to_chat_messages
from models_ml.llm.prompts import counselor_system_prompt
from models_ml.llm.role_cards import RoleCard as CoreRoleCard
from models_ml.llm.role_cards import example_role_cards
from models_ml.llm.rules import closing_phrases_for, detect_closing
from roleplay.models import EndReason, Session, SessionStatus
from roleplay.notify import session_group, session_notify
from roleplay.selectors.chat import message_frame
from roleplay.services.chat import ChatError, message_create
from roleplay.services.sessions import session_end

from .. import selectors
from ..models import AIRole, GenerationState, PracticeSession
from .common import (
    ERR_EMPTY_REPLY,
    ERR_GENERATION,
    ERR_MODEL_MISSING,
    ERR_REPLY_WORKER_LOST,
    ERR_TIME_LIMIT,
    ERR_UNEXPECTED,
    ERR_UNREACHABLE,
    debounce_s,
    soft_time_limit_s,
    stream_delay_s,
)

logger = logging.getLogger(__name__)


# --- queueing a reply -------------------------------------------------------------------------------


def backend_config_for(practice: PracticeSession, *, build: bool = True) -> dict[str, Any]:
    """The ``get_backend`` config of this session's partner: the chosen model version, else the default of its
    kind (partners' order: trained model, settings, retrieval index); with nothing configured, the retrieval
    partner is built on demand from the database's High-scored sessions (``build=True``)."""
    language = practice.session.language
    try:
        return generation_backend_config(kind=practice.ai_role, version_id=practice.model_version_id, language=language)
    except NoModelError:
        if practice.model_version_id is not None or not build:
            raise
    try:
        version = retrieval_index_build(role=practice.ai_role, language=language)
    except PartnersError as exc:
        raise NoModelError("no_model", str(exc.message)) from None
    return version.backend_config()


def _queue_for(practice: PracticeSession) -> str:
    try:
        backend = backend_config_for(practice, build=False).get("backend")
    except NoModelError:
        backend = "retrieval"
    return "gpu" if backend == "hf" else "default"


def practice_reply_queue(*, practice: PracticeSession, after_seq: int, countdown: float | None = None) -> None:
    """Queue ``tasks.partner_reply`` once the current transaction commits (hf models go to the gpu queue)."""
    session_id = practice.session_id
    queue = _queue_for(practice)
    delay = debounce_s() if countdown is None else countdown
    transaction.on_commit(lambda: _dispatch(session_id=session_id, after_seq=after_seq, queue=queue, delay=delay))


def _dispatch(*, session_id: int, after_seq: int, queue: str, delay: float) -> None:
    from ..tasks import partner_reply

    if not settings.CELERY_TASK_ALWAYS_EAGER:
        partner_reply.apply_async(args=[session_id, after_seq], queue=queue, countdown=delay or None)
        return
    # Embedded (demo) mode has no worker: generate in a background thread of this process so that the
    # sender's socket is not held up (tests may turn the thread off to run the task inline).
    if not settings.KOKORO_PRACTICE_EMBEDDED_THREAD:
        partner_reply.apply(args=[session_id, after_seq])
        return
    loop = _server_loop()
    if loop is not None:
        # Run the thread from the server's event loop (asgiref), so that its socket events reach the
        # in-memory channel layer, which lives on that loop.
        asyncio.run_coroutine_threadsafe(_embedded_async(session_id, after_seq, delay), loop)
    else:
        threading.Thread(target=_run_embedded, args=(session_id, after_seq, delay), daemon=True).start()


def _server_loop() -> asyncio.AbstractEventLoop | None:
    from asgiref.sync import SyncToAsync

    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    return loop if loop is not None and loop.is_running() else None


async def _embedded_async(session_id: int, after_seq: int, delay: float) -> None:
    from asgiref.sync import sync_to_async

    await asyncio.sleep(delay)
    await sync_to_async(_run_embedded, thread_sensitive=False)(session_id, after_seq, 0)


def _run_embedded(session_id: int, after_seq: int, delay: float) -> None:
    from ..tasks import partner_reply

    try:
        if delay:
            time.sleep(delay)
        partner_reply.apply(args=[session_id, after_seq])
    except Exception:
        logger.exception("practice: embedded reply for session %s failed", session_id)
    finally:
        connections.close_all()  # this thread is done with its database connections


def _stale(practice: PracticeSession) -> bool:
    return timezone.now() - practice.updated_at > timedelta(seconds=soft_time_limit_s() + 60)


# --- generating a reply (runs in the Celery task) ------------------------------------------------------


@dataclass(frozen=True)
class ReplyOutcome:
    status: str  # "stored" | "skipped" | "superseded" | "error"
    message_id: int | None = None
    ended: bool = False
    error: str = ""


def _claim(*, session_id: int, after_seq: int) -> tuple[PracticeSession, str] | None:
    """Take the job of answering the messages up to ``after_seq``; None when there is nothing to do."""
    with transaction.atomic():
        practice = (
            PracticeSession.objects.select_for_update().select_related("session").filter(session_id=session_id).first()
        )
        if practice is None:
            return None
        session = practice.session
        if session.status != SessionStatus.LIVE or timezone.now() >= session.ends_at:
            return None
        if session.last_seq != after_seq:  # a newer message came (its own task answers it), or we answered
            return None
        if after_seq == 0 and practice.ai_role != AIRole.COUNSELOR:
            return None  # the AI client waits for the counselor's greeting
        busy = practice.state == GenerationState.GENERATING and not _stale(practice)
        if busy and practice.reply_after_seq >= after_seq:
            return None  # a duplicate delivery of a task already running
        reply_id = secrets.token_hex(8)
        practice.state = GenerationState.GENERATING
        practice.reply_id = reply_id
        practice.reply_after_seq = after_seq
        practice.attempts += 1
        practice.last_error = ""
        practice.save(update_fields=["state", "reply_id", "reply_after_seq", "attempts", "last_error", "updated_at"])
        return practice, reply_id


def _notify(session_id: int, event: dict) -> None:
    try:
        session_notify(session_id=session_id, event=event)
    except Exception:  # the socket events are hints; the stored message is the truth
        logger.exception("practice: could not notify session %s", session_id)


def _backend(config: dict[str, Any]) -> GenerationBackend:
    """One backend instance per configuration and process (models_ml.jobs model cache: an hf model is loaded
    once per worker, and shared with coaching and the arena)."""
    return cached_backend(config)


def backend_cache_clear() -> None:
    model_cache().clear()


def _chunks(text: str, size: int = 4) -> Iterator[str]:
    delay = stream_delay_s()
    for start in range(0, len(text), size):
        if start and delay:
            time.sleep(delay)
        yield text[start : start + size]


def _role_card(practice: PracticeSession) -> CoreRoleCard:
    if practice.role_card is not None:
        return practice.role_card.to_core()
    # the card was deleted meanwhile: an example card of the session's language
    language = "ja" if practice.session.language == "ja" else "en"
    return next(iter(example_role_cards(language).values()))


def _generate(practice: PracticeSession, reply_id: str) -> tuple[str, bool]:
    """Generate the reply, pushing ``ai.delta`` events; returns (text, is_closing)."""
    session_id = practice.session_id
    history = selectors.session_history(session_id=session_id)
    backend = _backend(backend_config_for(practice))
    if practice.ai_role == AIRole.CLIENT:
        # The refinement rules may regenerate: only the accepted reply is streamed (generated whole first).
        refined = ai_client_reply(backend, _role_card(practice), history)
        text, closing, stream = refined.text.strip(), False, _chunks(refined.text.strip())
    else:
        # The session's language: an English session prompts hf / openai partners in English.
        prompt = counselor_system_prompt(practice.session.language)
        messages = to_chat_messages(history, ai_role=ROLE_COUNSELOR, system_prompt=prompt)
        stream, text, closing = backend.stream(messages), None, None
    parts: list[str] = []
    for delta in stream:
        if delta:
            parts.append(delta)
            _notify(session_id, {"type": "ai.delta", "reply_id": reply_id, "role": practice.ai_role, "delta": delta})
    if text is None:
        text = "".join(parts).strip()
        closing = detect_closing(text, closing_phrases_for(practice.session.language)) is not None
    return text, bool(closing)


def _store(*, practice: PracticeSession, reply_id: str, after_seq: int, text: str, closing: bool) -> ReplyOutcome:
    with transaction.atomic():
        session = Session.objects.select_for_update().get(pk=practice.session_id)
        current = PracticeSession.objects.select_for_update().get(pk=practice.pk)
        if current.reply_id != reply_id:
            return ReplyOutcome("superseded")  # a retry or a newer message's task took over
        if session.last_seq != after_seq:
            current.state = GenerationState.IDLE
            current.save(update_fields=["state", "updated_at"])
            return ReplyOutcome("superseded")  # the trainee wrote again: the newer task answers everything
        bot = session.counselor if practice.ai_role == AIRole.COUNSELOR else session.client
        limit = settings.KOKORO_MAX_MESSAGE_CHARS
        stored = message_create(
            session_id=session.pk, user=bot, text=text[:limit], client_msg_id=f"ai-{reply_id}", rate_limit=False
        )
        current.state = GenerationState.IDLE
        current.replies += 1
        current.save(update_fields=["state", "replies", "updated_at"])
        frame = message_frame(stored.message)
        transaction.on_commit(lambda: _broadcast(session.pk, frame))
        if closing:  # the AI counselor said goodbye: end the session like the counselor's button
            session_end(session=session, reason=EndReason.COUNSELOR)
        return ReplyOutcome("stored", message_id=stored.message.pk, ended=closing)


def _broadcast(session_id: int, frame: dict) -> None:
    """Exactly what the chat consumer does for a human message (no sending socket: channel None)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            session_group(session_id), {"type": "chat.message", "message": frame, "channel": None}
        )
    except Exception:
        logger.exception("practice: could not broadcast the AI message of session %s", session_id)


def _fail(*, practice: PracticeSession, reply_id: str, message: str, code: str) -> ReplyOutcome:
    with transaction.atomic():
        updated = PracticeSession.objects.filter(pk=practice.pk, reply_id=reply_id).update(
            state=GenerationState.ERROR, last_error=message[:2000], updated_at=timezone.now()
        )
    if updated:
        event = {
            "type": "ai.error",
            "reply_id": reply_id,
            "role": practice.ai_role,
            "code": code,
            "message": message,
            "retry_url": reverse("practice:retry", args=[practice.session_id]),
        }
        _notify(practice.session_id, event)
    return ReplyOutcome("error", error=message)


def _explain(exc: Exception) -> tuple[str, str]:
    """A stable code and a translated message; the backend's own (English) detail is kept in brackets."""
    if isinstance(exc, EndpointUnreachableError):
        code, message = "unreachable", ERR_UNREACHABLE
    elif isinstance(exc, GenerationTimeoutError):
        code, message = "timeout", ERR_TIME_LIMIT
    elif isinstance(exc, ModelNotFoundError | NoModelError):
        code, message = "model_missing", ERR_MODEL_MISSING
    else:
        code, message = "generation", ERR_GENERATION
    return code, f"{message} ({exc})"


def practice_reply_generate(*, session_id: int, after_seq: int) -> ReplyOutcome:
    """Answer the conversation of an AI session as it stood at ``after_seq`` (the task's body).

    Skips when a newer message has arrived (debounce: only the last of several quick messages is answered);
    a failure is stored on the PracticeSession and pushed as ``ai.error``; nothing half-written is stored."""
    from celery.exceptions import SoftTimeLimitExceeded

    claimed = _claim(session_id=session_id, after_seq=after_seq)
    if claimed is None:
        return ReplyOutcome("skipped")
    practice, reply_id = claimed
    _notify(session_id, {"type": "ai.typing", "reply_id": reply_id, "role": practice.ai_role, "typing": True})
    try:
        text, closing = _generate(practice, reply_id)
        if not text:
            return _fail(practice=practice, reply_id=reply_id, message=str(ERR_EMPTY_REPLY), code="empty")
        outcome = _store(practice=practice, reply_id=reply_id, after_seq=after_seq, text=text, closing=closing)
    except (GenerationError, NoModelError) as exc:
        code, message = _explain(exc)
        return _fail(practice=practice, reply_id=reply_id, message=message, code=code)
    except SoftTimeLimitExceeded:
        return _fail(practice=practice, reply_id=reply_id, message=str(ERR_TIME_LIMIT), code="timeout")
    except ChatError as exc:  # the session ended while we were generating
        outcome = ReplyOutcome("superseded", error=str(exc.message))
    except Exception:
        logger.exception("practice: reply for session %s failed", session_id)
        return _fail(practice=practice, reply_id=reply_id, message=str(ERR_UNEXPECTED), code="unexpected")
    if outcome.status != "stored":
        _notify(session_id, {"type": "ai.retract", "reply_id": reply_id, "role": practice.ai_role})
    return outcome


def practice_replies_reap_stale() -> int:
    """Replies whose worker died (no progress for the soft time limit + 60 s) end in a clear error with
    a retry button, instead of leaving the page at "AI is typing…". Run periodically by Celery beat."""
    cutoff = timezone.now() - timedelta(seconds=soft_time_limit_s() + 60)
    stale = list(PracticeSession.objects.filter(state=GenerationState.GENERATING, updated_at__lt=cutoff))
    for practice in stale:
        _fail(practice=practice, reply_id=practice.reply_id, message=str(ERR_REPLY_WORKER_LOST), code=CODE_WORKER_LOST)
    return len(stale)


def practice_reply_fail(*, session_id: int, message: str) -> None:
    """The task died outside the service (hard time limit, lost worker): store and show the error."""
    practice = selectors.practice_for_session(session_id=session_id)
    if practice is not None and practice.state == GenerationState.GENERATING:
        _fail(practice=practice, reply_id=practice.reply_id, message=message, code="timeout")


__all__ = [
    "ReplyOutcome",
    "backend_cache_clear",
    "backend_config_for",
    "practice_replies_reap_stale",
    "practice_reply_fail",
    "practice_reply_generate",
    "practice_reply_queue",
]
