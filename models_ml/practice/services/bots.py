"""The AI partners' password-less bot accounts (one per model version / role card)."""

from __future__ import annotations

import logging
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import translation

from models_ml.finetuning.models import ModelVersion, RoleCard
from roleplay.models import Profile, Qualification

from ..models import AIRole, PartnerBot
from .common import (
    BOT_NAME_CLIENT,
    BOT_NAME_COUNSELOR,
    BOT_NAME_COUNSELOR_MODEL,
)

logger = logging.getLogger(__name__)


# --- bot accounts -----------------------------------------------------------------------------------


def _bot_key_and_name(*, ai_role: str, model_version: ModelVersion | None, role_card: RoleCard | None):
    with translation.override(settings.LANGUAGE_CODE):  # stored data: in the site's language, not the visitor's
        return _bot_key_and_name_now(ai_role=ai_role, model_version=model_version, role_card=role_card)


def _bot_key_and_name_now(*, ai_role: str, model_version: ModelVersion | None, role_card: RoleCard | None):
    if ai_role == AIRole.COUNSELOR:
        if model_version is None:
            return "counselor", str(BOT_NAME_COUNSELOR)
        return f"counselor-{model_version.pk}", str(BOT_NAME_COUNSELOR_MODEL % {"name": model_version.name})
    return f"client-{role_card.pk}", str(BOT_NAME_CLIENT % {"name": role_card.name})


def partner_bot_get_or_create(
    *, ai_role: str, model_version: ModelVersion | None = None, role_card: RoleCard | None = None
):
    """The user account of one AI partner (no usable password: nobody can log in as it)."""
    key, display_name = _bot_key_and_name(ai_role=ai_role, model_version=model_version, role_card=role_card)
    return bot_account_get_or_create(key=key, display_name=display_name, ai_role=ai_role)


def bot_account_get_or_create(*, key: str, display_name: str, ai_role: str):
    """The password-less account registered under ``key`` (AI partners, simulated participants).

    Accounts are found by their PartnerBot key, never by user name, so a person who signed up
    with a name like ``ai-counselor`` is never mistaken for a bot."""
    bot = PartnerBot.objects.select_related("user").filter(key=key).first()
    if bot is not None:
        return bot.user
    User = get_user_model()
    username = f"ai-{key}"
    while User.objects.filter(username=username).exists():  # a human took the name: never reuse their account
        username = f"ai-{key}-{secrets.token_hex(3)}"
    user = User(username=username, is_active=True)
    user.set_unusable_password()
    user.save()
    qualification = Qualification.CERTIFIED if ai_role == AIRole.COUNSELOR else Qualification.TRAINEE
    Profile.objects.create(user=user, display_name=display_name[:50], qualification=qualification)
    PartnerBot.objects.create(key=key, user=user, ai_role=ai_role)
    return user


__all__ = [
    "bot_account_get_or_create",
    "partner_bot_get_or_create",
]
