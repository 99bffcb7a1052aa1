"""LLM-judge jobs: new battles between two counselor models, or re-judging the human battles."""

from __future__ import annotations

import logging
import random
import secrets
from typing import Any

from django.db import transaction

from models_ml.finetuning.models import ModelKind, ModelVersion
from models_ml.finetuning.selectors import generation_backend_config
from models_ml.jobs.services import job_count
from models_ml.llm.backends import GenerationBackend, GenerationError
from models_ml.llm.partners import ai_counselor_reply

from .. import judging, selectors
from .. import protocol as sim
from ..models import (
    ArenaBattle,
    JudgeJob,
    JudgeKind,
)
from .common import (
    ERR_JOB_FAILED,
    ERR_N_BATTLES,
    ERR_NO_HISTORIES,
    ERR_NO_HUMAN_BATTLES,
    MAX_BATTLES,
    ArenaError,
    _check_version,
    _claim,
    _dispatch,
    _finish,
    _queue,
    backend_for,
    counselor_pair_check,
    model_key,
    with_retries,
)
from .human import _pair_key

logger = logging.getLogger(__name__)


# --- LLM judge ---------------------------------------------------------------------------------------


@transaction.atomic
def judge_job_create(
    *,
    mode: str = JudgeJob.MODE_NEW,
    judge_version_id: int | None = None,
    model_a_id: int | None = None,
    model_b_id: int | None = None,
    n_battles: int = 10,
    both_orders: bool = False,
    created_by: Any = None,
) -> JudgeJob:
    if not 1 <= int(n_battles) <= MAX_BATTLES:
        raise ArenaError(message=ERR_N_BATTLES % {"max": MAX_BATTLES})
    judge = _check_version(judge_version_id, ModelKind.SCORER)
    model_a = model_b = None
    if mode == JudgeJob.MODE_NEW:
        model_a = _check_version(model_a_id, ModelKind.COUNSELOR)
        model_b = _check_version(model_b_id, ModelKind.COUNSELOR)
        counselor_pair_check(model_a, model_b)
        if not selectors.history_sources().exists():
            raise ArenaError(message=ERR_NO_HISTORIES)
    elif not ArenaBattle.objects.filter(judge_kind=JudgeKind.HUMAN).exists():
        raise ArenaError(message=ERR_NO_HUMAN_BATTLES)
    job = JudgeJob.objects.create(
        mode=mode,
        judge_version=judge,
        model_a=model_a,
        model_b=model_b,
        n_battles=n_battles,
        both_orders=both_orders,
        seed=secrets.randbelow(2**31),
        created_by=created_by,
    )
    _dispatch("run_judge", job.pk, queue=_queue(model_a, model_b))
    return job


def judge_name(version: ModelVersion | None) -> str:
    if version is not None:
        return f"{version.name} #{version.pk}"
    config = generation_backend_config(kind=ModelKind.SCORER)
    return str(config.get("model") or config.get("backend") or "judge")


def llm_judge(
    *, backend: GenerationBackend, history: list[dict[str, str]], reply_a: str, reply_b: str, order: str
) -> tuple[str, str]:
    """Show the replies in ``order`` ("ab" or "ba"), parse the verdict and map it back: ("a"|"b"|"tie", raw)."""
    first, second = (reply_a, reply_b) if order == "ab" else (reply_b, reply_a)
    raw = with_retries(
        lambda: backend.generate(judging.arena_judge_messages(history, first, second, system=sim.judge_system()))
    )
    shown = judging.parse_judge_answer(raw)  # ValueError when unparseable
    if shown == "tie":
        return "tie", raw
    return order[0 if shown == "A" else 1], raw


def _judge_pair(job: JudgeJob, backend: GenerationBackend, name: str, rng: random.Random, pair: dict) -> None:
    orders = ["ab", "ba"] if job.both_orders else [rng.choice(["ab", "ba"])]
    for order in orders:
        winner, raw = llm_judge(
            backend=backend, history=pair["history"], reply_a=pair["a"], reply_b=pair["b"], order=order
        )
        ArenaBattle.objects.create(
            session_id=pair.get("session_id"),
            history=pair["history"],
            model_a=pair["model_a"],
            model_b=pair["model_b"],
            model_a_version_id=pair.get("model_a_version_id"),
            model_b_version_id=pair.get("model_b_version_id"),
            shown_order=order,
            reply_a=pair["a"],
            reply_b=pair["b"],
            judge_kind=JudgeKind.LLM,
            judge_model=name,
            judge_job=job,
            pair_key=pair["pair_key"],
            winner=winner,
            raw_judgement=raw[:4000],
        )


def _new_pairs(job: JudgeJob, rng: random.Random):
    backend_a = backend_for(kind=ModelKind.COUNSELOR, version=job.model_a)
    backend_b = backend_for(kind=ModelKind.COUNSELOR, version=job.model_b)
    a_key, b_key = model_key(job.model_a), model_key(job.model_b)
    for session_id, history in selectors.sample_histories(n=job.n_battles, rng=rng):
        reply_a = with_retries(lambda h=history: ai_counselor_reply(backend_a, h).text)
        reply_b = with_retries(lambda h=history: ai_counselor_reply(backend_b, h).text)
        yield {
            "session_id": session_id,
            "history": history,
            "a": reply_a,
            "b": reply_b,
            "model_a": a_key,
            "model_b": b_key,
            "model_a_version_id": job.model_a_id,
            "model_b_version_id": job.model_b_id,
            "pair_key": _pair_key(history, reply_a, reply_b, a_key, b_key),
        }


def _rejudge_pairs(job: JudgeJob):
    for b in selectors.human_pairs(limit=job.n_battles):
        yield {
            "session_id": b.session_id,
            "history": b.history,
            "a": b.reply_a,
            "b": b.reply_b,
            "model_a": b.model_a,
            "model_b": b.model_b,
            "model_a_version_id": b.model_a_version_id,
            "model_b_version_id": b.model_b_version_id,
            "pair_key": b.pair_key,
        }


def judge_job_execute(*, job_id: int) -> str:
    job = _claim(JudgeJob, job_id)
    if job is None:
        return "skipped"
    try:
        rng = random.Random(job.seed)
        backend = backend_for(kind=ModelKind.SCORER, version=job.judge_version)
        name = judge_name(job.judge_version)
        pairs = _new_pairs(job, rng) if job.mode == JudgeJob.MODE_NEW else _rejudge_pairs(job)
        job.total = job.n_battles if job.mode == JudgeJob.MODE_NEW else len(selectors.human_pairs(job.n_battles))
        job.save(update_fields=["total"])
        failures: list[str] = []
        for pair in pairs:
            try:
                _judge_pair(job, backend, name, rng, pair)
                still_running = job_count(model=JudgeJob, job_id=job.pk, field="done")
            except (GenerationError, ValueError) as exc:
                failures.append(str(exc))
                still_running = job_count(model=JudgeJob, job_id=job.pk, field="failed")
            if not still_running:  # cancelled from its page (or reaped): stop here
                break
        _finish(job, results={"failures": failures[:50]})
    except Exception as exc:
        logger.exception("judge job %s failed", job_id)
        job.refresh_from_db()
        _finish(job, error=str(ERR_JOB_FAILED % {"detail": exc}))
    return job.status


__all__ = [
    "judge_job_create",
    "judge_job_execute",
    "judge_name",
    "llm_judge",
]
