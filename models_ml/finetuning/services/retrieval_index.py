"""The CPU retrieval partner: build its index from the High-scored sessions (at once, or as a job)."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from feedback.dataset.exporter import export_audit_create
from models_ml.jobs.control import job_log
from models_ml.jobs.services import (
    job_claim,
    job_dispatch,
    job_fail,
    job_fail_unexpected,
    job_finish,
    job_progress,
)

from .. import selectors
from ..models import (
    Backend,
    JobStatus,
    ModelKind,
    ModelVersion,
    RetrievalIndexJob,
)
from .common import (
    ERR_RETRIEVAL_EMPTY,
    ERR_TARGET_ROLE,
    PartnersError,
    artifacts_dir,
)
from .versions import (
    model_version_create,
    model_version_set_active,
)

logger = logging.getLogger(__name__)


def retrieval_index_build(*, role: str = "counselor", activate: bool = True, language: str = "ja") -> ModelVersion:
    """Index the High-scored (70–98) sessions of the database for the CPU retrieval partner and register it
    (in another ``language``: their translations, so the partner answers in that language)."""
    from models_ml.llm.backends import BackendConfigError
    from models_ml.llm.backends.retrieval import RetrievalBackend

    if role not in (ModelKind.COUNSELOR, ModelKind.CLIENT):
        raise PartnersError(message=ERR_TARGET_ROLE)
    records = selectors.retrieval_records(language=language)
    if not records:
        raise PartnersError(message=ERR_RETRIEVAL_EMPTY)
    export_audit_create(
        user=None,
        channel="retrieval",
        options=selectors.RETRIEVAL_OPTIONS,
        fmt=f"retrieval-{role}",
        dialogue_count=len(records),
        extra={"language": language},
    )
    started = time.perf_counter()
    try:
        backend = RetrievalBackend.from_records(records, role=role)
    except BackendConfigError:
        raise PartnersError(message=ERR_RETRIEVAL_EMPTY) from None
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S-%f")
    path = backend.save(artifacts_dir() / "retrieval" / f"{role}-{stamp}.joblib")
    config: dict[str, Any] = {"index_path": str(path)}  # the index knows its role
    if language != "ja":
        config["language"] = language
    return model_version_create(
        name=f"Retrieval {role}{'' if language == 'ja' else f' ({language})'} {timezone.localtime():%Y-%m-%d %H:%M}",
        kind=role,
        backend=Backend.RETRIEVAL,
        config=config,
        metrics={
            "dialogues": len(records),
            "indexed_replies": len(backend.replies),
            "build_s": round(time.perf_counter() - started, 2),
        },
        is_active=activate,
    )


# --- retrieval index builds as jobs ----------------------------------------------------------------------


def retrieval_index_stale_after_s() -> float:
    """A running index build without progress for this long lost its worker (reading + fitting take minutes)."""
    return float(settings.KOKORO_FINETUNE_STALE_S)


@transaction.atomic
def retrieval_index_job_create(
    *, role: str, activate: bool = True, created_by: Any = None, dispatch: bool = True
) -> RetrievalIndexJob:
    """Queue a retrieval-index build (sent after commit; embedded mode: a background thread). ``dispatch=False``:
    the caller runs it (a step of the first-run set-up)."""
    from ..tasks import build_retrieval_index

    if role not in (ModelKind.COUNSELOR, ModelKind.CLIENT):
        raise PartnersError("role", ERR_TARGET_ROLE)
    job = RetrievalIndexJob.objects.create(role=role, activate=activate, created_by=created_by)
    if dispatch:
        job_dispatch(
            task=build_retrieval_index, args=[job.pk], embedded_thread=settings.KOKORO_FINETUNE_EMBEDDED_THREAD
        )
    return job


def retrieval_index_job_execute(*, job_id: int, task_id: str = "", hostname: str = "") -> str:
    """Claim and run one build; the outcome (model version, or the reason) is stored on the job."""
    job = job_claim(model=RetrievalIndexJob, job_id=job_id, task_id=task_id, hostname=hostname)
    if job is None:
        return "skipped"

    def step(line: str, progress: int) -> bool:
        job_log(model=RetrievalIndexJob, job_id=job.pk, line=line)
        return job_progress(model=RetrievalIndexJob, job_id=job.pk, progress=progress, message=line)

    step(f"Building the {job.role} index from the High-scored sessions", 5)
    try:
        version = retrieval_index_build(role=job.role, activate=False)
    except PartnersError as exc:
        job_log(model=RetrievalIndexJob, job_id=job.pk, line=str(exc.message))
        job_fail(model=RetrievalIndexJob, job_id=job.pk, reason=str(exc.message), code=exc.code)
        return JobStatus.FAILED
    except Exception as exc:  # every failure ends in a stored, readable state
        logger.exception("retrieval index job %s failed", job_id)
        job_fail_unexpected(model=RetrievalIndexJob, job_id=job.pk, exc=exc)
        return JobStatus.FAILED
    metrics = version.metrics
    line = f"Indexed {metrics.get('indexed_replies')} replies of {metrics.get('dialogues')} dialogues"
    if not step(f"{line} in {metrics.get('build_s')} s", 95):  # cancelled meanwhile: nothing is activated
        return JobStatus.CANCELLED
    if job.activate:
        model_version_set_active(version=version, active=True)
        job_log(model=RetrievalIndexJob, job_id=job.pk, line=f"{version.name} is now active")
    job_finish(model=RetrievalIndexJob, job_id=job.pk, model_version=version, message=version.name)
    return JobStatus.SUCCEEDED


__all__ = [
    "retrieval_index_build",
    "retrieval_index_job_create",
    "retrieval_index_job_execute",
    "retrieval_index_stale_after_s",
]
