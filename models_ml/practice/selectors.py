"""Reads of the AI practice partners."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from models_ml.finetuning.models import ModelKind, ModelVersion, RoleCard
from models_ml.finetuning.selectors import model_versions, partner_available, role_cards
from roleplay.models import Message

from .models import AIRole, PartnerBot, PracticeSession


def practice_for_session(*, session_id: int) -> PracticeSession | None:
    return PracticeSession.objects.select_related("session").filter(session_id=session_id).first()


def review_session_get(*, session_id: int, user) -> PracticeSession:
    """An AI practice session reviewed by its trainee counselor (or staff); anyone else gets 404."""
    practice = (
        PracticeSession.objects.select_related("session__counselor__profile", "session__client__profile", "role_card")
        .filter(session_id=session_id, ai_role=AIRole.CLIENT)
        .first()
    )
    if practice is None or not user.is_authenticated:
        raise Http404
    if not (user.is_staff or practice.session.counselor_id == user.pk):
        raise Http404
    return practice


def has_spoken(*, session_id: int, role: str) -> bool:
    return Message.objects.filter(session_id=session_id, role=role).exists()


def review_transcript(*, session_id: int) -> list[Message]:
    return list(Message.objects.filter(session_id=session_id).order_by("seq"))


def counselor_versions() -> QuerySet[ModelVersion]:
    """Active AI-counselor models a trainee may pick (empty: the default partner is used)."""
    return model_versions(kind=ModelKind.COUNSELOR, active_only=True)


def partners_available() -> dict[str, bool]:
    """Which AI partners the dashboard can offer: ``{"client": ..., "counselor": ...}``."""
    return {kind: partner_available(kind=kind) for kind in (ModelKind.CLIENT, ModelKind.COUNSELOR)}


def active_role_cards(*, language: str | None = None) -> QuerySet[RoleCard]:
    return role_cards(active_only=True, language=language)


def user_is_partner_bot(user) -> bool:
    return PartnerBot.objects.filter(user_id=user.pk).exists()


def session_history(*, session_id: int) -> list[dict[str, str]]:
    """The conversation in dataset roles, for ``models_ml.llm.partners``."""
    rows = Message.objects.filter(session_id=session_id).order_by("seq").values_list("role", "text")
    return [{"role": role, "text": text} for role, text in rows]


def practice_language(*, ai_role: str, ui_language: str | None, chosen_model: bool = False) -> str:
    """The language of a new practice session: the UI's when it is not Japanese and a partner can answer in
    it (an active model of that language, or the imported translations to build the retrieval partner
    from); else Japanese. A chosen model version answers in Japanese."""
    language = (ui_language or "ja").split("-")[0].lower()
    if chosen_model or language == "ja":
        return "ja"
    return language if partner_available(kind=ai_role, language=language) else "ja"
