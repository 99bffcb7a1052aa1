"""Celery tasks of the coaching app (JSON arguments: ids only; time limits set)."""

from __future__ import annotations

from celery import shared_task
from celery.signals import task_failure

from .services import ERR_TIME_LIMIT, live_coaching_compute, suggestion_run_compute, suggestion_run_fail

SUGGESTIONS_SOFT_LIMIT_S = 900
LIVE_SOFT_LIMIT_S = 30


@shared_task(
    bind=True,
    name="models_ml.coaching.tasks.compute_suggestions",
    ignore_result=True,
    soft_time_limit=SUGGESTIONS_SOFT_LIMIT_S,
    time_limit=SUGGESTIONS_SOFT_LIMIT_S + 30,
)
def compute_suggestions(self, run_id: int) -> str:
    """What the AI counselor would have said at each counselor turn of an ended session."""
    return suggestion_run_compute(
        run_id=run_id, task_id=self.request.id or "", hostname=self.request.hostname or ""
    ).status


@task_failure.connect(sender=compute_suggestions)
def _on_failure(sender=None, task_id=None, exception=None, args=None, kwargs=None, **extra) -> None:
    # Time limits (and any unexpected error) end in a clear stored state instead of a run stuck in "running".
    run_id = args[0] if args else (kwargs or {}).get("run_id")
    if run_id is not None:
        suggestion_run_fail(
            run_id=int(run_id),
            message=str(ERR_TIME_LIMIT) if "TimeLimit" in type(exception).__name__ else str(exception),
        )


@shared_task(
    name="models_ml.coaching.tasks.live_coach",
    ignore_result=True,
    soft_time_limit=LIVE_SOFT_LIMIT_S,
    time_limit=LIVE_SOFT_LIMIT_S + 10,
)
def live_coach(session_id: int, seq: int) -> str:
    """Running predicted score and hints after the counselor's message ``seq`` (pushed to the counselor only)."""
    state = live_coaching_compute(session_id=session_id, seq=seq)
    return "skipped" if state is None else state["status"]
