"""Writes of the auto-scorer: train and activate models, request and compute predictions."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation

from roleplay.models import Session
from roleplay.notify import session_notify

from .models import Prediction, PredictionStatus, ScorerModel
from .scoring.artifacts import new_version, save_model
from .scoring.backends import clear_cache
from .scoring.base import ERR_TOO_FEW_MESSAGES, ERR_TOO_FEW_SESSIONS, ScorerError, get_scorer
from .scoring.records import LabelledDialogue

if TYPE_CHECKING:
    from .scoring.features import FeatureConfig

logger = logging.getLogger(__name__)

MIN_MESSAGES_TO_SCORE = 4  # and at least one message from each side
DEFAULT_MIN_SESSIONS = 50
ABSOLUTE_MIN_SESSIONS = 10  # below this a validation split cannot be carved out


class TrainingError(Exception):
    pass


def scorer_backend() -> str:
    return getattr(settings, "KOKORO_SCORER_BACKEND", "cpu")


def scorer_train(
    *,
    records: list[LabelledDialogue],
    min_sessions: int = DEFAULT_MIN_SESSIONS,
    seed: int = 0,
    activate: bool = True,
    source: str = "database",
    config: FeatureConfig | None = None,
    log: Callable[[str], None] | None = None,
) -> ScorerModel:
    """Train the CPU scorer: 90 % training, 10 % validation (alpha, rounding offsets, thresholds)."""
    labelled = [r for r in records if r.labelled]
    minimum = max(min_sessions, ABSOLUTE_MIN_SESSIONS)
    if len(labelled) < minimum:
        raise TrainingError(ERR_TOO_FEW_SESSIONS % {"count": len(labelled), "minimum": minimum})
    order = list(range(len(labelled)))
    random.Random(seed).shuffle(order)
    n_val = max(1, len(labelled) // 10)
    val = [labelled[i] for i in order[:n_val]]
    train = [labelled[i] for i in order[n_val:]]
    from .scoring.cpu import train_cpu_model  # heavy: sklearn
    from .scoring.features import FeatureConfig

    config = config or FeatureConfig()
    model = train_cpu_model(train, val, config=config, log=log)
    version = new_version("cpu")
    manifest = {
        "backend": "cpu",
        "created_at": timezone.now().isoformat(),
        "training_source": source,
        "training_size": len(train),
        "validation_size": len(val),
        "seed": seed,
        "feature_config": config.as_dict(),
        "metrics": {"validation": model.info["validation"]},
        "model": {k: v for k, v in model.info.items() if k != "validation"},
    }
    path, digest = save_model(model, version=version, manifest=manifest)
    return _scorer_model_record(
        version=version, path=path, digest=digest, manifest=manifest, train_size=len(train), activate=activate
    )


@transaction.atomic
def _scorer_model_record(*, version, path, digest, manifest, train_size, activate) -> ScorerModel:
    row = ScorerModel.objects.create(
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
    ScorerModel.objects.filter(backend=scorer_model.backend, is_active=True).exclude(pk=scorer_model.pk).update(
        is_active=False
    )
    scorer_model.is_active = True
    scorer_model.save(update_fields=["is_active"])
    transaction.on_commit(clear_cache)
    return scorer_model


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
            result = get_scorer(backend).predict(dialogue)
    except ScorerError as exc:
        return _prediction_store(
            session_id=session.pk, backend=backend, status=PredictionStatus.FAILED, reason=str(exc)
        )
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
