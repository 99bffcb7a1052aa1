"""Celery task of the AI practice partners (JSON arguments: ids only)."""

from __future__ import annotations

from celery import shared_task
from celery.signals import task_failure

from .services import (
    ERR_TIME_LIMIT,
    practice_reply_fail,
    practice_reply_generate,
    soft_time_limit_s,
)

SOFT_TIME_LIMIT_S = int(soft_time_limit_s())


@shared_task(
    name="models_ml.practice.tasks.partner_reply",
    ignore_result=True,
    soft_time_limit=SOFT_TIME_LIMIT_S,
    time_limit=SOFT_TIME_LIMIT_S + 30,
)
def partner_reply(session_id: int, after_seq: int) -> str:
    """Generate, stream and store the AI partner's reply to the messages up to ``after_seq``."""
    return practice_reply_generate(session_id=session_id, after_seq=after_seq).status


@task_failure.connect(sender=partner_reply)
def _on_failure(sender=None, task_id=None, exception=None, args=None, kwargs=None, **extra) -> None:
    # The hard time limit kills the child without running our except clauses: store the error here.
    session_id = args[0] if args else (kwargs or {}).get("session_id")
    if session_id is not None:
        practice_reply_fail(session_id=int(session_id), message=str(ERR_TIME_LIMIT))
