"""Shared by the fine-tuning services: limits, error messages, PartnersError, settings getters."""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kokoro_site.errors import ServiceError

logger = logging.getLogger(__name__)


logger = logging.getLogger(__name__)

MAX_HISTORY_POINTS = 1000
MIN_DIALOGUES = 3
MAX_BASE_MODEL_CHARS = 500
MAX_SYSTEM_PROMPT_CHARS = 4000

# --- error messages (tests reuse them) ------------------------------------------------------------
ERR_HP_NOT_OBJECT = _("Hyper-parameters must be a JSON object.")
ERR_HP_BAD_JSON = _("Hyper-parameters are not valid JSON: %(detail)s")
ERR_HP_UNKNOWN = _("Unknown hyper-parameter(s): %(names)s.")
ERR_HP_SECTION = _("Hyper-parameter section “%(section)s” must be a JSON object.")
ERR_HP_TYPE = _("Hyper-parameter %(name)s must be %(expected)s (got %(got)s).")
ERR_HP_RANGE = _("Hyper-parameter %(name)s %(reason)s.")
ERR_HP_INVALID = _("Invalid hyper-parameters: %(detail)s")
ERR_TASK = _("Unknown task: choose “response” or “score”.")
ERR_SUBSET = _("Unknown training data subset.")
ERR_TARGET_ROLE = _("The model can learn to play the counselor or the client only.")
ERR_SYSTEM_PROMPT = _("The system prompt must be text of at most %(max)s characters.")
ERR_BASE_MODEL = _("Give the base model as a local folder or a model name the GPU worker can load.")
ERR_BASE_MODEL_LONG = _("The base model path is too long (at most %(max)s characters).")
ERR_BASE_MODEL_NO_FOLDER = _("The base model folder %(path)s does not exist on this server.")
ERR_BASE_MODEL_NO_CONFIG = _(
    "The folder %(path)s is not a model: it has no config.json (a Hugging Face model folder is needed)."
)
ERR_BASE_MODEL_NOT_CACHED = _(
    "The model %(name)s is neither a local folder nor in the Hugging Face cache of this server, and models "
    "cannot be downloaded here. Copy the model folder to the server and give its path."
)
ERR_MAX_STEPS = _("Max steps must be a whole number of at least 1 (or empty for the full schedule).")
ERR_TOO_FEW_DIALOGUES = _(
    "Only %(count)s dialogue(s) with feedback match this training data; at least %(minimum)s are needed."
)
ERR_START_STATE = _("Only a queued job can be started.")
ERR_CANCEL_STATE = _("This job has already finished and cannot be cancelled.")
ERR_RETRY_STATE = _("Only a failed or cancelled job can be retried.")
ERR_WORKER_LOST_SIGNAL = _("Worker lost: the worker process running this job died. Retry it to run again.")
ERR_TIME_LIMIT = _("The job ran past its time limit and was stopped.")
ERR_OUT_OF_MEMORY = _("The GPU ran out of memory: lower the batch size or the maximum length.")
ERR_UNEXPECTED = _("The job failed unexpectedly: %(detail)s")
ERR_TRAINING = _("Training failed: %(detail)s")

ERR_RC_INVALID = _("Invalid role card: %(detail)s")
ERR_RC_NAME = _("Give the role card a name (at most 60 characters).")
ERR_RC_NAME_TAKEN = _("A role card with this name already exists.")
ERR_RC_NUL = _("Text must not contain NUL or control characters.")

ERR_MV_CONFIG = _("The %(backend)s backend needs %(needed)s.")
ERR_MV_SECRET = _("Do not store API keys in the database: give the NAME of the environment variable in api_key_env.")
ERR_MV_KIND = _("Unknown model kind.")
ERR_MV_BACKEND = _("Unknown backend.")
ERR_RETRIEVAL_EMPTY = _("No High-scored (70–98) session with feedback to index yet.")


class PartnersError(ServiceError):
    """A refused fine-tuning / model-version / role-card action: nothing was saved."""


# --- settings --------------------------------------------------------------------------------------


def heartbeat_interval_s() -> float:
    return float(settings.KOKORO_FINETUNE_HEARTBEAT_S)


def stale_after_s() -> float:
    """A running job whose heartbeat is older than this is considered lost (model loading included)."""
    return float(settings.KOKORO_FINETUNE_STALE_S)


def progress_write_s() -> float:
    return float(settings.KOKORO_FINETUNE_PROGRESS_WRITE_S)


def cancel_poll_s() -> float:
    return float(settings.KOKORO_FINETUNE_CANCEL_POLL_S)


def artifacts_dir() -> Path:
    return Path(settings.KOKORO_ARTIFACTS_DIR)


def _line(text: str) -> str:
    return f"{timezone.localtime():%H:%M:%S} {text}"


__all__ = [
    "ERR_BASE_MODEL",
    "ERR_BASE_MODEL_LONG",
    "ERR_BASE_MODEL_NOT_CACHED",
    "ERR_BASE_MODEL_NO_CONFIG",
    "ERR_BASE_MODEL_NO_FOLDER",
    "ERR_CANCEL_STATE",
    "ERR_HP_BAD_JSON",
    "ERR_HP_INVALID",
    "ERR_HP_NOT_OBJECT",
    "ERR_HP_RANGE",
    "ERR_HP_SECTION",
    "ERR_HP_TYPE",
    "ERR_HP_UNKNOWN",
    "ERR_MAX_STEPS",
    "ERR_MV_BACKEND",
    "ERR_MV_CONFIG",
    "ERR_MV_KIND",
    "ERR_MV_SECRET",
    "ERR_OUT_OF_MEMORY",
    "ERR_RC_INVALID",
    "ERR_RC_NAME",
    "ERR_RC_NAME_TAKEN",
    "ERR_RC_NUL",
    "ERR_RETRIEVAL_EMPTY",
    "ERR_RETRY_STATE",
    "ERR_START_STATE",
    "ERR_SUBSET",
    "ERR_SYSTEM_PROMPT",
    "ERR_TARGET_ROLE",
    "ERR_TASK",
    "ERR_TIME_LIMIT",
    "ERR_TOO_FEW_DIALOGUES",
    "ERR_TRAINING",
    "ERR_UNEXPECTED",
    "ERR_WORKER_LOST_SIGNAL",
    "MAX_BASE_MODEL_CHARS",
    "MAX_HISTORY_POINTS",
    "MAX_SYSTEM_PROMPT_CHARS",
    "MIN_DIALOGUES",
    "PartnersError",
    "artifacts_dir",
    "cancel_poll_s",
    "heartbeat_interval_s",
    "progress_write_s",
    "stale_after_s",
]
