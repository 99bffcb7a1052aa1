"""Starting and ending an AI practice session (through roleplay's services), and the trainee's retry."""

from __future__ import annotations

import logging
import random

from django.db import transaction
from django.utils import timezone

from models_ml.finetuning.models import ModelKind, ModelVersion, RoleCard
from models_ml.finetuning.selectors import partner_available
from models_ml.finetuning.services import role_cards_load_examples
from roleplay.models import EndReason, Session, SessionSource, SessionStatus
from roleplay.services.sessions import session_end, session_start_now

from .. import selectors
from ..models import AIRole, GenerationState, PracticeSession
from .bots import (
    partner_bot_get_or_create,
)
from .common import (
    DEFAULT_DURATION_MINUTES,
    ERR_AI_ROLE,
    ERR_ANONYMOUS,
    ERR_MODEL_UNAVAILABLE,
    ERR_NO_PARTNER,
    ERR_NO_ROLE_CARDS,
    ERR_NOT_PRACTICE,
    ERR_NOT_TRAINEE,
    ERR_RETRY_BUSY,
    ERR_RETRY_ENDED,
    ERR_ROLE_CARD_UNAVAILABLE,
    PracticeError,
)
from .replies import (
    _stale,
    practice_reply_queue,
)

logger = logging.getLogger(__name__)


# --- starting a session -----------------------------------------------------------------------------


def _check_trainee(user) -> None:
    if user is None or not getattr(user, "is_authenticated", False):
        raise PracticeError("anonymous", ERR_ANONYMOUS)
    if not user.is_active or selectors.user_is_partner_bot(user):
        raise PracticeError("forbidden", ERR_NOT_TRAINEE)


def _pick_role_card(role_card_id: int | None, *, language: str = "ja") -> RoleCard:
    """The chosen active card, else a random active card written in the session's language (an English
    session plays an English card: the AI client is prompted in the card's language)."""
    if role_card_id is not None:
        card = RoleCard.objects.filter(pk=role_card_id, is_active=True).first()
        if card is None:
            raise PracticeError("role_card", ERR_ROLE_CARD_UNAVAILABLE)
        return card
    cards = list(selectors.active_role_cards(language=language))
    if not cards and not RoleCard.objects.filter(language=language).exists():
        # first use on a fresh install (or of this language): the three invented example cards
        role_cards_load_examples(language=language)
        cards = list(selectors.active_role_cards(language=language))
    if not cards:
        raise PracticeError("role_card", ERR_NO_ROLE_CARDS)
    return random.choice(cards)


@transaction.atomic
def practice_session_start(
    *,
    user,
    ai_role: str,
    model_version_id: int | None = None,
    role_card_id: int | None = None,
    duration_minutes: int = DEFAULT_DURATION_MINUTES,
    language: str = "ja",
) -> Session:
    """Start a live session now between ``user`` and an AI partner.

    ``ai_role="counselor"``: the user plays the client; ``model_version_id`` picks an active counselor model
    (None = the default partner). ``ai_role="client"``: the user plays the counselor; ``role_card_id`` picks an
    active role card (None = a random one). The AI counselor greets first; the AI client waits.
    ``language`` "en": English-mode practice, the partner answers from the English translations, hf / openai
    partners are prompted in English and the AI client plays an English card (the session records its
    language); a chosen role card sets the session's language to its own."""
    _check_trainee(user)
    if ai_role not in AIRole.values:
        raise PracticeError("ai_role", ERR_AI_ROLE)
    model_version = role_card = None
    if ai_role == AIRole.COUNSELOR:
        if model_version_id is not None:
            model_version = ModelVersion.objects.filter(
                pk=model_version_id, kind=ModelKind.COUNSELOR, is_active=True
            ).first()
            if model_version is None:
                raise PracticeError("model_version", ERR_MODEL_UNAVAILABLE)
    else:
        role_card = _pick_role_card(role_card_id, language=language)
        language = role_card.language  # a chosen card is played in the language it is written in
    if model_version is None and not partner_available(kind=ai_role, language=language):
        raise PracticeError("unavailable", ERR_NO_PARTNER)  # refused before anything is created
    bot = partner_bot_get_or_create(ai_role=ai_role, model_version=model_version, role_card=role_card)
    session = session_start_now(
        counselor=bot if ai_role == AIRole.COUNSELOR else user,
        client=user if ai_role == AIRole.COUNSELOR else bot,
        duration_minutes=duration_minutes,
        source=SessionSource.AI,
        # Half of the transcript is machine-written: research exports leave it out unless asked
        # (``export_kokorochat --include-synthetic``), like the simulated sessions.
        is_synthetic=True,
        language=language,
    )
    practice = PracticeSession.objects.create(
        session=session, ai_role=ai_role, model_version=model_version, role_card=role_card
    )
    if ai_role == AIRole.COUNSELOR:  # in KokoroChat the counselor opens the conversation
        practice_reply_queue(practice=practice, after_seq=0, countdown=0)
    return session


# --- the trainee's buttons ---------------------------------------------------------------------------


@transaction.atomic
def practice_reply_retry(*, session_id: int, user) -> PracticeSession:
    """The trainee's "try again" after an error: answer the conversation as it stands now."""
    practice = (
        PracticeSession.objects.select_for_update().select_related("session").filter(session_id=session_id).first()
    )
    if practice is None or practice.session.role_of(user) != practice.human_role:
        raise PracticeError("not_found", ERR_NOT_PRACTICE)
    session = practice.session
    if session.status != SessionStatus.LIVE or timezone.now() >= session.ends_at:
        raise PracticeError("ended", ERR_RETRY_ENDED)
    if practice.state == GenerationState.GENERATING and not _stale(practice):
        raise PracticeError("busy", ERR_RETRY_BUSY)
    practice.state = GenerationState.IDLE
    practice.last_error = ""
    practice.save(update_fields=["state", "last_error", "updated_at"])
    practice_reply_queue(practice=practice, after_seq=session.last_seq, countdown=0)
    return practice


def practice_session_end(*, session_id: int, user) -> Session:
    """The trainee leaves an AI session. In an AI-counselor session the trainee is the client, who cannot end a
    human session; here the AI counselor closes it on the trainee's request (reason ``counselor``), so the
    trainee goes on to the feedback form as after any session."""
    practice = PracticeSession.objects.select_related("session").filter(session_id=session_id).first()
    if practice is None or practice.session.role_of(user) != practice.human_role:
        raise PracticeError("not_found", ERR_NOT_PRACTICE)
    return session_end(session=practice.session, reason=EndReason.COUNSELOR)


__all__ = [
    "practice_reply_retry",
    "practice_session_end",
    "practice_session_start",
]
