"""Celery tasks: thin wrappers that load a job id and call its ``*_execute`` service (JSON args only)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from . import services
from .models import EvalJob, JudgeJob, LabelJob, SimulationJob

TIME_LIMIT_S = int(settings.KOKORO_ARENA_TIME_LIMIT_S)
_OPTS = {"acks_late": True, "ignore_result": True, "time_limit": TIME_LIMIT_S, "soft_time_limit": TIME_LIMIT_S - 60}


def _run(model, job_id: int, execute) -> str:
    try:
        return execute(job_id=job_id)
    except Exception as exc:  # SoftTimeLimitExceeded and anything unexpected → a stored failed state
        services.job_fail(model=model, job_id=job_id, reason=str(services.ERR_JOB_FAILED % {"detail": exc}))
        raise


@shared_task(name="models_ml.arena.tasks.run_simulation", **_OPTS)
def run_simulation(job_id: int) -> str:
    return _run(SimulationJob, job_id, services.simulation_job_execute)


@shared_task(name="models_ml.arena.tasks.run_judge", **_OPTS)
def run_judge(job_id: int) -> str:
    return _run(JudgeJob, job_id, services.judge_job_execute)


@shared_task(name="models_ml.arena.tasks.run_evaluation", **_OPTS)
def run_evaluation(job_id: int) -> str:
    return _run(EvalJob, job_id, services.eval_job_execute)


@shared_task(name="models_ml.arena.tasks.run_labels", **_OPTS)
def run_labels(job_id: int) -> str:
    return _run(LabelJob, job_id, services.label_job_execute)


@shared_task(
    name="models_ml.arena.tasks.advance_arena_dialogue", ignore_result=True, soft_time_limit=600, time_limit=660
)
def advance_arena_dialogue(dialogue_id: int) -> str:
    """The human arena's next step (client turn + two replies), out of the request."""
    return services.arena_dialogue_advance(dialogue_id=dialogue_id)
