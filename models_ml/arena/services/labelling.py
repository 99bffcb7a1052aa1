"""Topic labelling and WAI-O-S ratings of sessions by an LLM judge."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import transaction

from models_ml.finetuning.models import ModelKind
from models_ml.jobs.services import job_count
from models_ml.llm.backends import GenerationBackend, GenerationError
from roleplay.services.sessions import session_topic_set

from .. import judging, selectors, wai
from ..models import (
    LabelJob,
    LabelKind,
    WaiRating,
)
from .common import (
    ERR_LABEL_KIND,
    ERR_NO_SESSIONS,
    ArenaError,
    _check_version,
    _claim,
    _dispatch,
    _finish,
    backend_for,
    with_retries,
)
from .judge import judge_name

logger = logging.getLogger(__name__)
T = TypeVar("T")


# --- topic labelling and WAI-O-S ---------------------------------------------------------------------


@transaction.atomic
def label_job_create(
    *,
    kind: str,
    session_ids: list[int] | None = None,
    source: str = "simulated",
    overwrite: bool = False,
    judge_version_id: int | None = None,
    limit: int = 100,
    created_by: Any = None,
) -> LabelJob:
    if kind not in LabelKind.values:
        raise ArenaError(message=ERR_LABEL_KIND)
    judge = _check_version(judge_version_id, ModelKind.SCORER)
    ids = selectors.sessions_to_label(
        kind=kind, session_ids=session_ids, source=source, overwrite=overwrite, limit=limit
    )
    if not ids:
        raise ArenaError(message=ERR_NO_SESSIONS)
    job = LabelJob.objects.create(
        kind=kind, judge_version=judge, session_ids=ids, overwrite=overwrite, total=len(ids), created_by=created_by
    )
    _dispatch("run_labels", job.pk)
    return job


def _ask(backend: GenerationBackend, messages: list[dict[str, str]], parse: Callable[[str], T], tries: int):
    """Generate and parse; an unparseable answer is asked again (``tries`` in all). Returns (parsed, raw)."""
    error: Exception | None = None
    for _attempt in range(max(1, tries)):
        raw = with_retries(lambda: backend.generate(messages))
        try:
            return parse(raw), raw
        except ValueError as exc:
            error = exc
    raise ValueError(str(error))


def label_job_execute(*, job_id: int) -> str:
    job = _claim(LabelJob, job_id)
    if job is None:
        return "skipped"
    try:
        backend = backend_for(kind=ModelKind.SCORER, version=job.judge_version)
        name = judge_name(job.judge_version)
        failures: dict[str, str] = {}
        labels: dict[str, Any] = {}
        for session_id in job.session_ids:
            history = selectors.session_history(session_id=session_id)
            try:
                if job.kind == LabelKind.TOPIC:
                    (topic, sub), _raw = _ask(
                        backend, judging.topic_messages(history), judging.parse_topic_answer, job.max_tries
                    )
                    session_topic_set(session_id=session_id, topic=topic, sub=sub, overwrite=job.overwrite)
                    labels[str(session_id)] = {"topic": topic, "sub": sub}
                else:
                    rated = wai.rate_session(
                        lambda m: _ask(backend, m, wai.parse_rating, job.max_tries)[0], judging.transcript(history)
                    )
                    WaiRating.objects.create(
                        session_id=session_id,
                        job=job,
                        judge_model=name,
                        items=rated.items,
                        raw=wai.raw(rated),
                        **rated.means,
                    )
                    labels[str(session_id)] = rated.means
                still_running = job_count(model=LabelJob, job_id=job.pk, field="done")
            except (GenerationError, ValueError) as exc:
                failures[str(session_id)] = str(exc)
                still_running = job_count(model=LabelJob, job_id=job.pk, field="failed")
            if not still_running:  # cancelled from its page (or reaped): stop here
                break
        _finish(job, results={"labels": labels, "failures": failures})
    except Exception as exc:
        logger.exception("label job %s failed", job_id)
        job.refresh_from_db()
        _finish(job, error=str(getattr(exc, "message", exc)))
    return job.status


__all__ = [
    "label_job_create",
    "label_job_execute",
]
