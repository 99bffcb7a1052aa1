"""Writes of the auto-scorer: train and activate models, request and compute predictions."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from kokoro_site.errors import ServiceError
from models_ml.jobs.control import job_log
from models_ml.jobs.services import job_claim, job_dispatch, job_fail, job_fail_unexpected, job_finish, job_progress
from roleplay.models import Session
from roleplay.notify import session_notify

from .artifacts import new_version, save_model
from .backends import clear_cache
from .base import CODE_NO_MODEL, ERR_TOO_FEW_MESSAGES, ERR_TOO_FEW_SESSIONS, ScorerError, get_scorer
from .models import Prediction, PredictionStatus, ScorerModel, ScorerTrainingJob
from .records import LabelledDialogue

if TYPE_CHECKING:
    from .features import FeatureConfig

logger = logging.getLogger(__name__)

MIN_MESSAGES_TO_SCORE = 4  # and at least one message from each side
DEFAULT_MIN_SESSIONS = 50
ABSOLUTE_MIN_SESSIONS = 10  # below this a validation split cannot be carved out


class TrainingError(ServiceError):
    """Scorer training refused (too few labelled sessions)."""


def scorer_backend() -> str:
    return settings.KOKORO_SCORER_BACKEND


def scorer_train(
    *,
    records: list[LabelledDialogue],
    min_sessions: int = DEFAULT_MIN_SESSIONS,
    seed: int = 0,
    activate: bool = True,
    source: str = "database",
    config: FeatureConfig | None = None,
    log: Callable[[str], None] | None = None,
    language: str = "ja",
) -> ScorerModel:
    """Train the CPU scorer: 90 % training, 10 % validation (alpha, rounding offsets, thresholds).

    ``language``: the language of the records' texts, stored on the version (a session is scored
    by the active model of its language)."""
    labelled = [r for r in records if r.labelled]
    minimum = max(min_sessions, ABSOLUTE_MIN_SESSIONS)
    if len(labelled) < minimum:
        raise TrainingError(message=ERR_TOO_FEW_SESSIONS % {"count": len(labelled), "minimum": minimum})
    order = list(range(len(labelled)))
    random.Random(seed).shuffle(order)
    n_val = max(1, len(labelled) // 10)
    val = [labelled[i] for i in order[:n_val]]
    train = [labelled[i] for i in order[n_val:]]
    from .cpu import train_cpu_model  # heavy: sklearn
    from .features import FeatureConfig

    config = config or FeatureConfig()
    model = train_cpu_model(train, val, config=config, log=log)
    version = new_version("cpu")
    manifest = {
        "backend": "cpu",
        "created_at": timezone.now().isoformat(),
        "training_source": source,
        "language": language,
        "training_size": len(train),
        "validation_size": len(val),
        "seed": seed,
        "feature_config": config.as_dict(),
        "metrics": {"validation": model.info["validation"]},
        "model": {k: v for k, v in model.info.items() if k != "validation"},
    }
    path, digest = save_model(model, version=version, manifest=manifest)
    return _scorer_model_record(
        version=version,
        path=path,
        digest=digest,
        manifest=manifest,
        train_size=len(train),
        activate=activate,
        language=language,
    )


@transaction.atomic
def _scorer_model_record(*, version, path, digest, manifest, train_size, activate, language="ja") -> ScorerModel:
    row = ScorerModel.objects.create(
        language=language,
        version=version,
        backend="cpu",
        path=str(path.relative_to(settings.KOKORO_ARTIFACTS_DIR)),
        sha256=digest,
        train_size=train_size,
        feature_config=manifest["feature_config"],
        metrics=manifest["metrics"],
    )
    if activate:
        scorer_model_activate(scorer_model=row)
    return row


@transaction.atomic
def scorer_model_activate(*, scorer_model: ScorerModel) -> ScorerModel:
    active = ScorerModel.objects.filter(backend=scorer_model.backend, language=scorer_model.language, is_active=True)
    active.exclude(pk=scorer_model.pk).update(is_active=False)
    scorer_model.is_active = True
    scorer_model.save(update_fields=["is_active"])
    transaction.on_commit(clear_cache)
    predictions_waiting_rescore_queue()  # sessions that waited for a scorer are scored now
    return scorer_model


def predictions_waiting_rescore_queue() -> None:
    """Queue (after commit) the job that scores every session waiting for a scorer."""
    from .tasks import rescore_waiting

    if not Prediction.objects.filter(status=PredictionStatus.WAITING).exists():
        return
    job_dispatch(task=rescore_waiting, args=[], embedded_thread=settings.KOKORO_FINETUNE_EMBEDDED_THREAD)


def predictions_waiting_rescore() -> int:
    """Every prediction that waits for a scorer becomes pending and is scored (its page updates when the
    result is pushed, or at its next poll). Returns how many were queued."""
    ids = list(Prediction.objects.filter(status=PredictionStatus.WAITING).values_list("session_id", flat=True))
    for session_id in ids:
        prediction_request(session_id=session_id)
    return len(ids)


# --- scorer training as a job ------------------------------------------------------------------------------

ERR_MIN_SESSIONS = _("The minimum number of labelled sessions must be a whole number of at least %(minimum)s.")
TRAINING_STALE_S = 30 * 60  # reading, featurising and fitting report progress well within this


def scorer_training_stale_after_s() -> float:
    return float(TRAINING_STALE_S)


@transaction.atomic
def scorer_training_job_create(
    *,
    min_sessions: int = DEFAULT_MIN_SESSIONS,
    seed: int = 0,
    activate: bool = True,
    created_by=None,
    dispatch: bool = True,
) -> ScorerTrainingJob:
    """Queue a CPU scorer training on the database's labelled sessions (sent after commit; ``dispatch=False``:
    the caller runs it, e.g. as a step of the first-run set-up)."""
    from .tasks import train_scorer

    if isinstance(min_sessions, bool) or not isinstance(min_sessions, int) or min_sessions < ABSOLUTE_MIN_SESSIONS:
        raise TrainingError("min_sessions", ERR_MIN_SESSIONS % {"minimum": ABSOLUTE_MIN_SESSIONS})
    job = ScorerTrainingJob.objects.create(
        min_sessions=min_sessions, seed=max(0, int(seed)), activate=activate, created_by=created_by
    )
    if dispatch:
        job_dispatch(task=train_scorer, args=[job.pk], embedded_thread=settings.KOKORO_FINETUNE_EMBEDDED_THREAD)
    return job


class _Cancelled(Exception):
    """The job was cancelled (or reaped) while it ran: stop without storing a result."""


def scorer_training_job_execute(*, job_id: int, task_id: str = "", hostname: str = "") -> str:
    """Claim and run one training; the scorer version (or the reason) is stored on the job. A job cancelled
    while it runs stops at its next progress line and activates nothing."""
    from .selectors import labelled_dialogues

    job = job_claim(model=ScorerTrainingJob, job_id=job_id, task_id=task_id, hostname=hostname)
    if job is None:
        return "skipped"

    def step(line: str, progress: int | None = None) -> None:
        job_log(model=ScorerTrainingJob, job_id=job.pk, line=line)
        if not job_progress(model=ScorerTrainingJob, job_id=job.pk, progress=progress, message=line):
            raise _Cancelled

    try:
        step("Loading labelled sessions", 5)
        records = labelled_dialogues()
        step(f"{len(records)} sessions loaded", 20)
        lines = iter(range(30, 91, 10))  # each training log line moves the bar on (at most 90 % before the end)
        row = scorer_train(
            records=records,
            min_sessions=job.min_sessions,
            seed=job.seed,
            activate=False,
            log=lambda line: step(line, next(lines, None)),
        )
        step(f"Trained {row.version}", 95)
        if job.activate:
            scorer_model_activate(scorer_model=row)
            job_log(model=ScorerTrainingJob, job_id=job.pk, line=f"{row.version} is now the active scorer")
    except _Cancelled:
        return "cancelled"
    except TrainingError as exc:
        job_log(model=ScorerTrainingJob, job_id=job.pk, line=_english(exc.message))
        job_fail(model=ScorerTrainingJob, job_id=job.pk, reason=str(exc.message), code="too_few_sessions")
        return "failed"
    except Exception as exc:  # every failure ends in a stored, readable state
        logger.exception("scorer training job %s failed", job_id)
        job_fail_unexpected(model=ScorerTrainingJob, job_id=job.pk, exc=exc)
        return "failed"
    job_finish(model=ScorerTrainingJob, job_id=job.pk, scorer_model=row, message=row.version)
    return "succeeded"


@transaction.atomic
def prediction_request(*, session_id: int) -> Prediction:
    """Mark the session's prediction pending and queue the scoring task after commit."""
    from .tasks import score_session

    backend = scorer_backend()
    prediction, _ = Prediction.objects.update_or_create(
        session_id=session_id,
        defaults={
            "status": PredictionStatus.PENDING,
            "reason": "",
            "backend": backend,
            "items": [],
            "total": None,
            "screening": {},
            "flags": {},
            "model_version": "",
            "finished_at": None,
        },
    )
    # The LLM scorer runs where the GPUs are (one job at a time per GPU worker).
    queue = "gpu" if backend == "llm" else None
    transaction.on_commit(lambda: score_session.apply_async((session_id,), queue=queue))
    return prediction


def prediction_compute(*, session_id: int) -> Prediction:
    """Score the session with the configured backend and store the outcome (done/skipped/failed)."""
    session = Session.objects.get(pk=session_id)
    backend = scorer_backend()
    from .selectors import session_dialogue

    dialogue = session_dialogue(session_id=session.pk)
    roles = {m.role for m in dialogue.messages}
    if len(dialogue.messages) < MIN_MESSAGES_TO_SCORE or not {"client", "counselor"} <= roles:
        return _prediction_store(
            session_id=session.pk,
            backend=backend,
            status=PredictionStatus.SKIPPED,
            reason=_english(ERR_TOO_FEW_MESSAGES, count=len(dialogue.messages), minimum=MIN_MESSAGES_TO_SCORE),
        )
    try:
        with translation.override("en"):  # a stored reason is the English source, translated when shown
            result = get_scorer(backend, language=session.language).predict(dialogue)
    except ScorerError as exc:
        # No scorer yet is a state, not a failure: the session is scored once a scorer is activated.
        status = PredictionStatus.WAITING if exc.code == CODE_NO_MODEL else PredictionStatus.FAILED
        return _prediction_store(session_id=session.pk, backend=backend, status=status, reason=str(exc))
    return _prediction_store(
        session_id=session.pk,
        backend=backend,
        status=PredictionStatus.DONE,
        items=result.items,
        total=result.total,
        screening=result.screening,
        flags=result.flags,
        model_version=result.model_version,
    )


def _english(message, **params) -> str:
    """The English source text of a message (stored; ``presenters.reason_text`` translates it when shown)."""
    with translation.override("en"):
        return str(message % params) if params else str(message)


@transaction.atomic
def _prediction_store(*, session_id: int, backend: str, status: str, reason: str = "", **values) -> Prediction:
    prediction, _ = Prediction.objects.select_for_update().get_or_create(session_id=session_id)
    prediction.status = status
    prediction.reason = reason
    prediction.backend = backend
    prediction.items = values.get("items", [])
    prediction.total = values.get("total")
    prediction.screening = values.get("screening", {})
    prediction.flags = values.get("flags", {})
    prediction.model_version = values.get("model_version", "")
    prediction.finished_at = timezone.now()
    prediction.save()
    transaction.on_commit(lambda: prediction_push(prediction=prediction))
    return prediction


def prediction_event(prediction: Prediction) -> dict:
    return {
        "type": "prediction",
        "session_id": prediction.session_id,
        "status": prediction.status,
        "reason": prediction.reason,
        "items": prediction.items,
        "total": prediction.total,
        "flags": prediction.flags,
        "model_version": prediction.model_version,
    }


def prediction_push(*, prediction: Prediction) -> None:
    try:
        session_notify(
            session_id=prediction.session_id, event=prediction_event(prediction), audience=("counselor", "observer")
        )
    except Exception:  # the push is a hint; the page can always load the stored prediction
        logger.exception("could not push the prediction of session %s", prediction.session_id)


def prediction_fail(*, session_id: int, reason) -> None:
    _prediction_store(
        session_id=session_id, backend=scorer_backend(), status=PredictionStatus.FAILED, reason=_english(reason)
    )


@transaction.atomic
def scorer_model_attach_evaluation(*, scorer_model: ScorerModel, evaluations: list[dict]) -> ScorerModel:
    """Store evaluation summaries (``scoring.evaluation.evaluation_summary``, one per split) on a model
    version and in its manifest, for the model page."""
    import json
    from pathlib import Path

    scorer_model.metrics = {**scorer_model.metrics, "evaluation": evaluations}
    scorer_model.save(update_fields=["metrics"])
    manifest = (Path(settings.KOKORO_ARTIFACTS_DIR) / scorer_model.path).parent / "manifest.json"
    if manifest.is_file():
        data = json.loads(manifest.read_text(encoding="utf-8"))
        data.setdefault("metrics", {})["evaluation"] = evaluations
        manifest.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return scorer_model
