"""Shared by the practice services: error messages, PracticeError, settings getters."""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from kokoro_site.errors import ServiceError

logger = logging.getLogger(__name__)


logger = logging.getLogger(__name__)

ERR_ANONYMOUS = _("Log in to practise with an AI partner.")
ERR_NOT_TRAINEE = _("AI partner accounts and inactive accounts cannot start a practice session.")
ERR_AI_ROLE = _("Choose an AI counselor or an AI client.")
ERR_MODEL_UNAVAILABLE = _("This counselor model does not exist or is not active.")
ERR_ROLE_CARD_UNAVAILABLE = _("This role card does not exist or is not active.")
ERR_NO_ROLE_CARDS = _("No role card is available: ask an administrator to add one.")
MSG_NO_PARTNER_REASON = _(
    "An AI partner is not ready yet: it needs a trained or configured model, or sessions rated 70–98 with feedback "
    "for the built-in partner to answer from."
)
MSG_ASK_ADMIN = _("Please ask an administrator.")
ERR_NO_PARTNER = format_lazy("{} {}", MSG_NO_PARTNER_REASON, MSG_ASK_ADMIN)  # the dashboard shows the same reason
ERR_NOT_PRACTICE = _("This is not an AI practice session.")
ERR_RETRY_ENDED = _("The session has ended.")
ERR_RETRY_BUSY = _("The AI partner is already answering.")
ERR_EMPTY_REPLY = _("The AI partner produced an empty reply. Please try again.")
ERR_TIME_LIMIT = _("The AI partner took too long to answer. Please try again.")
ERR_UNEXPECTED = _("The AI partner failed unexpectedly. Please try again.")
# Shown to the trainee in the chat when the reaper finds a reply whose worker went silent (a reply, not a job:
# the jobs' ERR_WORKER_LOST is for staff on the job pages). Error code models_ml.jobs.services.CODE_WORKER_LOST.
ERR_REPLY_WORKER_LOST = _("The AI partner stopped answering (its worker was lost). Please try again.")
ERR_UNREACHABLE = _("The AI partner's model server cannot be reached.")
ERR_MODEL_MISSING = _("The AI partner's model is missing or not configured.")
ERR_GENERATION = _("The AI partner could not generate a reply.")

BOT_NAME_COUNSELOR = _("AI counselor")
BOT_NAME_COUNSELOR_MODEL = _("AI counselor (%(name)s)")
BOT_NAME_CLIENT = _("AI client (%(name)s)")

DEFAULT_DURATION_MINUTES = 60


class PracticeError(ServiceError):
    """A refused practice action (code: anonymous, forbidden, role_card, ai_role, model_version, unavailable,
    not_found, ended, busy)."""


def debounce_s() -> float:
    """Wait this long after a trainee's message before answering (several quick messages = one reply)."""
    return float(settings.KOKORO_PRACTICE_DEBOUNCE_S)


def soft_time_limit_s() -> float:
    return float(settings.KOKORO_PRACTICE_SOFT_TIME_LIMIT_S)


def stream_delay_s() -> float:
    """Pause between the chunks of an AI-client reply (generated whole, then streamed)."""
    return float(settings.KOKORO_PRACTICE_STREAM_DELAY_S)


__all__ = [
    "BOT_NAME_CLIENT",
    "BOT_NAME_COUNSELOR",
    "BOT_NAME_COUNSELOR_MODEL",
    "DEFAULT_DURATION_MINUTES",
    "ERR_AI_ROLE",
    "ERR_ANONYMOUS",
    "ERR_EMPTY_REPLY",
    "ERR_GENERATION",
    "ERR_MODEL_MISSING",
    "ERR_MODEL_UNAVAILABLE",
    "ERR_NOT_PRACTICE",
    "ERR_NOT_TRAINEE",
    "ERR_NO_PARTNER",
    "ERR_NO_ROLE_CARDS",
    "ERR_RETRY_BUSY",
    "ERR_RETRY_ENDED",
    "ERR_ROLE_CARD_UNAVAILABLE",
    "ERR_TIME_LIMIT",
    "ERR_UNEXPECTED",
    "ERR_UNREACHABLE",
    "ERR_REPLY_WORKER_LOST",
    "MSG_ASK_ADMIN",
    "MSG_NO_PARTNER_REASON",
    "PracticeError",
    "debounce_s",
    "soft_time_limit_s",
    "stream_delay_s",
]
