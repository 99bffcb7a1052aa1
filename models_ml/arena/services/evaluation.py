"""Response-generation metrics on the test dialogues (KokoroChat protocol), as a command or a job."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction

from models_ml.finetuning.models import Backend, ModelKind, ModelVersion
from models_ml.finetuning.selectors import retrieval_records
from models_ml.jobs.cache import cached_backend, model_cache
from models_ml.jobs.services import job_progress
from models_ml.llm.backends import GenerationBackend, get_backend
from models_ml.llm.partners import GREEDY_PARAMS, ai_counselor_reply

from .. import metrics, selectors
from ..models import (
    EvalJob,
)
from .common import (
    ERR_BACKEND_NAME,
    ERR_LIMIT,
    ERR_NO_BACKEND,
    ERR_NO_TEST_DIALOGUES,
    ERR_VERSION_KIND,
    ArenaError,
    _check_version,
    _claim,
    _dispatch,
    _finish,
    _queue,
    model_key,
)

logger = logging.getLogger(__name__)


# --- generation evaluation (KokoroChat protocol) -----------------------------------------------------


def eval_backend(*, backend_name: str, version_id: int | None) -> tuple[GenerationBackend, str]:
    if backend_name not in (Backend.HF, Backend.OPENAI, Backend.RETRIEVAL):
        raise ArenaError(message=ERR_BACKEND_NAME % {"name": backend_name})
    if version_id is not None:
        version = ModelVersion.objects.filter(pk=version_id, kind=ModelKind.COUNSELOR).first()
        if version is None or version.backend != backend_name:
            raise ArenaError(message=ERR_VERSION_KIND % {"id": version_id, "kind": f"{backend_name} counselor"})
        return cached_backend(version.backend_config()), model_key(version)
    active = ModelVersion.objects.filter(kind=ModelKind.COUNSELOR, backend=backend_name, is_active=True).first()
    if active is not None:
        return cached_backend(active.backend_config()), model_key(active)
    configured = settings.KOKORO_GENERATION_BACKENDS.get("counselor") or {}
    if configured.get("backend") == backend_name and all(configured.get(k) for k in ("base_url", "model")):
        from models_ml.finetuning.models import resolve_backend_config

        return cached_backend(resolve_backend_config(configured)), f"settings:{configured.get('model')}"
    if backend_name == Backend.RETRIEVAL:
        backend = model_cache().get(
            f"retrieval-memory:{ModelKind.COUNSELOR}",
            lambda: get_backend({"backend": "retrieval", "records": retrieval_records(), "role": ModelKind.COUNSELOR}),
        )
        return backend, "retrieval (in memory)"
    raise ArenaError(message=ERR_NO_BACKEND % {"name": backend_name})


def evaluate_generation(
    *,
    backend_name: str,
    version_id: int | None = None,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Every counselor turn of the test dialogues (score 99–100): history → reply, against the real reply."""
    if limit is not None and int(limit) < 1:
        raise ArenaError(message=ERR_LIMIT)
    cases = selectors.test_turns(limit=limit)
    if not cases:
        raise ArenaError(message=ERR_NO_TEST_DIALOGUES)
    backend, name = eval_backend(backend_name=backend_name, version_id=version_id)
    hyps, refs = [], []
    started = time.monotonic()
    for i, (_session_id, history, reference) in enumerate(cases, start=1):
        hyps.append(ai_counselor_reply(backend, history, **GREEDY_PARAMS).text)  # greedy, as the paper
        refs.append(reference)
        if progress:
            progress(i, len(cases))
    return {
        "backend": backend_name,
        "model": name,
        "turns": len(cases),
        "dialogues": len({c[0] for c in cases}),
        "decoding": "greedy",
        "tokenization": {
            "word": "MeCab (fugashi + unidic-lite) surface forms",
            "char": "characters, whitespace removed",
        },
        "metrics": metrics.generation_metrics(hyps, refs),
        "seconds": round(time.monotonic() - started, 2),
        "examples": [{"reference": r, "generated": h} for h, r in list(zip(hyps, refs, strict=True))[:5]],
    }


@transaction.atomic
def eval_job_create(
    *, backend_name: str, version_id: int | None = None, limit: int | None = None, created_by: Any = None
) -> EvalJob:
    if backend_name not in (Backend.HF, Backend.OPENAI, Backend.RETRIEVAL):
        raise ArenaError(message=ERR_BACKEND_NAME % {"name": backend_name})
    if limit is not None and int(limit) < 1:
        raise ArenaError(message=ERR_LIMIT)
    version = _check_version(version_id, ModelKind.COUNSELOR) if version_id else None
    job = EvalJob.objects.create(model_version=version, backend_name=backend_name, limit=limit, created_by=created_by)
    _dispatch("run_evaluation", job.pk, queue=_queue(version))
    return job


def eval_job_execute(*, job_id: int) -> str:
    job = _claim(EvalJob, job_id)
    if job is None:
        return "skipped"
    last = [0.0]

    def progress(done: int, total: int) -> None:
        if time.monotonic() - last[0] > 1 or done == total:
            last[0] = time.monotonic()
            job_progress(
                model=EvalJob,
                job_id=job.pk,
                progress=round(100 * done / total) if total else 0,
                done=done,
                total=total,
            )

    try:
        results = evaluate_generation(
            backend_name=job.backend_name, version_id=job.model_version_id, limit=job.limit, progress=progress
        )
        _finish(job, results=results)
    except Exception as exc:
        logger.exception("evaluation job %s failed", job_id)
        _finish(job, error=str(getattr(exc, "message", exc)))
    return job.status


__all__ = [
    "eval_backend",
    "eval_job_create",
    "eval_job_execute",
    "evaluate_generation",
]
