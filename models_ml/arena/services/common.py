"""Shared by the arena services: errors, settings, the model backends (shared cache), bot accounts, job dispatch."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from kokoro_site.errors import ServiceError
from models_ml.finetuning.models import Backend, ModelKind, ModelVersion
from models_ml.finetuning.selectors import NoModelError, generation_backend_config, retrieval_records
from models_ml.jobs.cache import cached_backend, model_cache
from models_ml.jobs.services import job_claim, job_dispatch, job_finish, jobs_reap_stale
from models_ml.jobs.services import job_fail as jobs_fail
from models_ml.llm.backends import GenerationBackend, GenerationError, get_backend
from models_ml.llm.rules import CLOSING_PHRASES, closing_phrases_for

from ..models import (
    EvalJob,
    JudgeJob,
    LabelJob,
    SimulationJob,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

ERR_NO_CARDS = _("Choose at least one active role card.")
ERR_CARD_LANGUAGE = _("A %(language)s simulation needs role cards written in that language: %(cards)s is not.")
ERR_SIM_LANGUAGE = _("Unknown simulation language %(language)s: choose ja or en.")
ERR_SESSIONS_PER_CARD = _("Sessions per role card must be between 1 and %(max)s.")
ERR_MAX_TURNS = _("Max turns must be between 2 and %(max)s.")
ERR_VERSION_KIND = _("Model version #%(id)s is not an active %(kind)s model.")
ERR_SAME_MODELS = _("Choose two different counselor models.")
ERR_SAME_BACKEND = _(
    "Model A and model B are the same counselor model (%(name)s): the two replies would be identical. "
    "Choose two different counselor models."
)
ERR_ONE_COUNSELOR = _(
    "The arena compares two different counselor models, but only one is available (%(name)s). "
    "Train or activate a second counselor model under Partners first."
)
ERR_N_BATTLES = _("The number of battles must be between 1 and %(max)s.")
ERR_NO_HISTORIES = _("No dialogue to take histories from: run a simulation or import test dialogues first.")
ERR_NO_HUMAN_BATTLES = _("There is no human-judged battle to re-judge yet.")
ERR_BAD_POSITION = _("Pick the first or the second reply, or a tie.")
ERR_DIALOGUE_FINISHED = _("This arena dialogue has ended: start a new one.")
ERR_STALE_PAIR = _("These replies were already judged: the page shows the next pair now.")
ERR_LABEL_KIND = _("Unknown labelling kind.")
ERR_NO_SESSIONS = _("No session matches: nothing to label.")
ERR_BACKEND_NAME = _("Unknown backend %(name)s: choose hf, openai or retrieval.")
ERR_NO_BACKEND = _(
    "No %(name)s counselor model is configured: activate a model version of that backend or pass --model-version."
)
ERR_NO_TEST_DIALOGUES = _("No test dialogue (feedback score 99–100) in the database.")
ERR_LIMIT = _("The limit must be a whole number of at least 1.")
ERR_TURN_FAILED = _("Turn %(turn)s failed after %(tries)s tries: %(detail)s")
ERR_JOB_FAILED = _("The job failed: %(detail)s")
ERR_NO_JUDGE = _("No LLM judge is configured: add an active scorer model version (openai backend).")

MAX_SESSIONS_PER_CARD = 50
MAX_TURNS = 50
MAX_BATTLES = 1000
DEFAULT_MODEL_KEY = "default"
SIM_CLIENT_KEY = "sim-client"
# A simulated session is live while its turns are generated: long enough for 50 turns of a slow GPU model
# (the overdue-session beat ends a live session at its end time).
SIM_SESSION_MINUTES = 24 * 60


class ArenaError(ServiceError):
    """A refused simulation / arena / evaluation action: nothing was saved."""


# --- settings ----------------------------------------------------------------------------------------


def closing_phrases(language: str = "ja") -> tuple[str, ...]:
    """``settings.KOKORO_CLOSING_PHRASES`` (a list) overrides ``models_ml.llm.rules.CLOSING_PHRASES`` (Japanese
    sessions); other languages use ``closing_phrases_for(language)`` (English)."""
    if language != "ja":
        return closing_phrases_for(language)
    override = settings.KOKORO_CLOSING_PHRASES
    return tuple(override) if override else CLOSING_PHRASES


def turn_retries() -> int:
    return int(settings.KOKORO_SIM_TURN_RETRIES)


def retry_backoff_s() -> float:
    return float(settings.KOKORO_SIM_RETRY_BACKOFF_S)


def elo_k() -> float:
    return float(settings.KOKORO_ELO_K)


# --- backends ----------------------------------------------------------------------------------------


def backend_cache_clear() -> None:
    """Forget the loaded models of this process (the shared models_ml.jobs model cache)."""
    model_cache().clear()


def model_key(version: ModelVersion | None) -> str:
    """The leaderboard name of a counselor backend."""
    return DEFAULT_MODEL_KEY if version is None else f"{version.name} #{version.pk}"


def _config_key(config: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in config.items() if k != "records"}, sort_keys=True, default=str)


def counselor_identity(version: ModelVersion | None) -> tuple[str, str]:
    """(what actually answers, its name) for a counselor choice: "Default" resolves to the model it stands for
    (``generation_backend_config``), so Default and that same version count as one model."""
    if version is not None:
        return _config_key(version.backend_config()), model_key(version)
    try:
        config = generation_backend_config(kind=ModelKind.COUNSELOR)
    except NoModelError:
        return "retrieval-memory:counselor", str(_("built-in retrieval partner"))
    active = ModelVersion.objects.filter(kind=ModelKind.COUNSELOR, is_active=True)
    for candidate in active:
        if _config_key(candidate.backend_config()) == _config_key(config):
            return _config_key(config), model_key(candidate)
    return _config_key(config), str(_("configured default"))


def counselor_pair_check(model_a: ModelVersion | None, model_b: ModelVersion | None) -> None:
    """Refuse two choices that resolve to the same model (ERR_SAME_BACKEND names it)."""
    key_a, name = counselor_identity(model_a)
    if key_a == counselor_identity(model_b)[0]:
        raise ArenaError(code="same_models", message=ERR_SAME_BACKEND % {"name": name})


def arena_counselor_choices() -> dict[str, Any]:
    """The distinct counselor models an arena could compare: ``{"ready", "reason", "initial"}``; ``initial`` are
    form defaults (A = Default, B = the first version that differs from it) when two exist."""
    seen: dict[str, tuple[ModelVersion | None, str]] = {}
    for version in [None, *ModelVersion.objects.filter(kind=ModelKind.COUNSELOR, is_active=True).order_by("pk")]:
        key, name = counselor_identity(version)
        seen.setdefault(key, (version, name))
    if len(seen) < 2:
        name = next(iter(seen.values()))[1]
        return {"ready": False, "reason": ERR_ONE_COUNSELOR % {"name": name}, "initial": {}}
    first, second = list(seen.values())[:2]
    return {
        "ready": True,
        "reason": "",
        "initial": {"model_a": first[0].pk if first[0] else None, "model_b": second[0].pk if second[0] else None},
    }


def _check_version(version_id: int | None, kind: str) -> ModelVersion | None:
    if version_id in (None, ""):
        return None
    version = ModelVersion.objects.filter(pk=version_id, kind=kind, is_active=True).first()
    if version is None:
        raise ArenaError(message=ERR_VERSION_KIND % {"id": version_id, "kind": kind})
    return version


def backend_for(*, kind: str, version: ModelVersion | None, language: str = "ja") -> GenerationBackend:
    """The backend of a version, or the default of ``kind`` in ``language`` (``generation_backend_config``),
    or — when nothing is configured — a retrieval partner built in memory from the High-scored sessions (in
    another language: their translations)."""
    if version is not None:
        return cached_backend(version.backend_config())
    try:
        return cached_backend(generation_backend_config(kind=kind, language=language))
    except NoModelError:
        if kind == ModelKind.SCORER:
            raise ArenaError(message=ERR_NO_JUDGE) from None
    # One in-memory index per role, language and process, shared with every app that falls back the same way.
    key = f"retrieval-memory:{kind}" if language == "ja" else f"retrieval-memory:{kind}:{language}"
    return model_cache().get(
        key,
        lambda: get_backend({"backend": "retrieval", "records": retrieval_records(language=language), "role": kind}),
    )


def with_retries(fn: Callable[[], T], *, tries: int | None = None, backoff: float | None = None) -> T:
    """Call ``fn`` up to ``tries`` times on GenerationError, sleeping backoff·2^k between tries."""
    tries = max(1, tries if tries is not None else turn_retries())
    backoff = retry_backoff_s() if backoff is None else backoff
    for attempt in range(tries):
        try:
            return fn()
        except GenerationError:
            if attempt == tries - 1:
                raise
            time.sleep(backoff * (2**attempt))
    raise AssertionError("unreachable")


# --- bot accounts ------------------------------------------------------------------------------------


def sim_bot_get_or_create(*, key: str, display_name: str, ai_role: str):
    """A simulated participant's password-less account (registered like the practice partners)."""
    from models_ml.practice.services import bot_account_get_or_create

    return bot_account_get_or_create(key=key, display_name=display_name, ai_role=ai_role)


def _counselor_bot(version: ModelVersion | None):
    suffix = DEFAULT_MODEL_KEY if version is None else str(version.pk)
    name = "AI counselor" if version is None else f"AI counselor {version.name}"
    return sim_bot_get_or_create(key=f"sim-counselor-{suffix}", display_name=name, ai_role="counselor")


# --- dispatch ----------------------------------------------------------------------------------------


def _dispatch(task_name: str, job_id: int, *, queue: str = "default") -> None:
    """After commit, on ``queue`` (models_ml.jobs); embedded mode: a background thread."""
    from .. import tasks

    job_dispatch(
        task=getattr(tasks, task_name),
        args=[job_id],
        queue=queue,
        embedded_thread=settings.KOKORO_ARENA_EMBEDDED_THREAD,
    )


def _queue(*versions: ModelVersion | None) -> str:
    return "gpu" if any(v is not None and v.backend == Backend.HF for v in versions) else "default"


def _finish(job: Any, *, error: str = "", **fields: Any) -> None:
    """Store the outcome (a job reaped meanwhile keeps its failed state) and refresh ``job``."""
    if error:
        job_fail(model=type(job), job_id=job.pk, reason=error, **fields)
    else:
        job_finish(model=type(job), job_id=job.pk, **fields)
    job.refresh_from_db()


def _claim(model: type, job_id: int) -> Any | None:
    """queued → running, once (a redelivered message of a job that already ran is skipped)."""
    return job_claim(model=model, job_id=job_id)


def job_fail(*, model: type, job_id: int, reason: str, **fields: Any) -> None:
    jobs_fail(model=model, job_id=job_id, reason=reason, **fields)


def stale_after_s() -> float:
    return float(settings.KOKORO_ARENA_STALE_S)


def arena_jobs_reap_stale() -> int:
    """Running jobs without progress for ``KOKORO_ARENA_STALE_S`` (the worker died) → failed. Returns the count."""
    return jobs_reap_stale(models=[SimulationJob, JudgeJob, EvalJob, LabelJob])


__all__ = [
    "ArenaError",
    "DEFAULT_MODEL_KEY",
    "arena_counselor_choices",
    "counselor_identity",
    "counselor_pair_check",
    "ERR_BACKEND_NAME",
    "ERR_BAD_POSITION",
    "ERR_DIALOGUE_FINISHED",
    "ERR_JOB_FAILED",
    "ERR_LABEL_KIND",
    "ERR_LIMIT",
    "ERR_MAX_TURNS",
    "ERR_NO_BACKEND",
    "ERR_NO_CARDS",
    "ERR_NO_HISTORIES",
    "ERR_NO_HUMAN_BATTLES",
    "ERR_NO_JUDGE",
    "ERR_NO_SESSIONS",
    "ERR_NO_TEST_DIALOGUES",
    "ERR_N_BATTLES",
    "ERR_ONE_COUNSELOR",
    "ERR_SAME_BACKEND",
    "ERR_SAME_MODELS",
    "ERR_SESSIONS_PER_CARD",
    "ERR_STALE_PAIR",
    "ERR_TURN_FAILED",
    "ERR_VERSION_KIND",
    "MAX_BATTLES",
    "MAX_SESSIONS_PER_CARD",
    "MAX_TURNS",
    "SIM_CLIENT_KEY",
    "SIM_SESSION_MINUTES",
    "arena_jobs_reap_stale",
    "backend_cache_clear",
    "backend_for",
    "closing_phrases",
    "elo_k",
    "job_fail",
    "model_key",
    "retry_backoff_s",
    "sim_bot_get_or_create",
    "stale_after_s",
    "turn_retries",
    "with_retries",
]
