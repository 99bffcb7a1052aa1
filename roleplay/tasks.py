"""Celery tasks of the chat: thin wrappers around ``roleplay.services``."""

from celery import shared_task

from roleplay.services.sessions import sessions_end_overdue


@shared_task(name="roleplay.tasks.end_overdue_sessions", ignore_result=True, time_limit=120, soft_time_limit=100)
def end_overdue_sessions() -> list[int]:
    """End live sessions whose time is up (beat: every minute). Returns the ended ids."""
    return sessions_end_overdue()
