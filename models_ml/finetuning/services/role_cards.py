"""The role-card library (AI-client personas): create, update, activate, load the examples."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from models_ml.llm.role_cards import CARD_LANGUAGES, RoleCardError, example_role_cards
from models_ml.llm.role_cards import RoleCard as CoreRoleCard

from ..models import (
    RoleCard,
)
from .common import (
    ERR_RC_INVALID,
    ERR_RC_NAME,
    ERR_RC_NAME_TAKEN,
    ERR_RC_NUL,
    PartnersError,
)

logger = logging.getLogger(__name__)


# --- role cards ------------------------------------------------------------------------------------


def _clean_role_card(data: Any) -> CoreRoleCard:
    if not isinstance(data, dict):
        raise PartnersError(message=ERR_RC_INVALID % {"detail": "not an object"})
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 60:
        raise PartnersError(message=ERR_RC_NAME)
    texts = [v for v in data.values() if isinstance(v, str)]
    big_five = data.get("big_five")
    if isinstance(big_five, dict):
        texts += [v for v in big_five.values() if isinstance(v, str)]
    if any(any(ord(c) < 32 and c not in "\n\t" for c in t) for t in texts):
        raise PartnersError(message=ERR_RC_NUL)
    data = {k: (v.strip() if isinstance(v, str) else v) for k, v in data.items()}
    if isinstance(data.get("big_five"), dict):
        data["big_five"] = {k: (v.strip() if isinstance(v, str) else v) for k, v in data["big_five"].items()}
    try:
        return CoreRoleCard.from_dict(data)
    except (RoleCardError, TypeError) as exc:
        raise PartnersError(message=ERR_RC_INVALID % {"detail": exc}) from None


def _card_fields(card: CoreRoleCard) -> dict[str, Any]:
    return {k: v for k, v in card.to_dict().items()}


@transaction.atomic
def role_card_create(*, data: dict, created_by: Any = None) -> RoleCard:
    card = _clean_role_card(data)
    if RoleCard.objects.filter(name=card.name).exists():
        raise PartnersError(message=ERR_RC_NAME_TAKEN)
    user = created_by if created_by is not None and getattr(created_by, "is_authenticated", False) else None
    return RoleCard.objects.create(**_card_fields(card), created_by=user)


@transaction.atomic
def role_card_update(*, role_card: RoleCard, data: dict) -> RoleCard:
    card = _clean_role_card(data)
    if RoleCard.objects.filter(name=card.name).exclude(pk=role_card.pk).exists():
        raise PartnersError(message=ERR_RC_NAME_TAKEN)
    for key, value in _card_fields(card).items():
        setattr(role_card, key, value)
    role_card.save()
    return role_card


@transaction.atomic
def role_card_set_active(*, role_card: RoleCard, active: bool) -> RoleCard:
    role_card.is_active = active
    role_card.save(update_fields=["is_active", "updated_at"])
    return role_card


@transaction.atomic
def role_cards_load_examples(*, created_by: Any = None, language: str | None = None) -> int:
    """Load the invented example cards shipped with the LLM core (``language`` None: the Japanese and the
    English ones; else that language's); existing names are left alone."""
    created = 0
    languages = CARD_LANGUAGES if language is None else (language,)
    for card in (c for lang in languages for c in example_role_cards(lang).values()):
        if not RoleCard.objects.filter(name=card.name).exists():
            role_card_create(data=card.to_dict(), created_by=created_by)
            created += 1
    return created


__all__ = [
    "role_card_create",
    "role_card_set_active",
    "role_card_update",
    "role_cards_load_examples",
]
