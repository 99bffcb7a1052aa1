"""Celery tasks of the chat: thin wrappers around ``roleplay.services``."""

from celery import shared_task

from roleplay.services.notifications import notification_email_send, sessions_remind_starting
from roleplay.services.sessions import sessions_end_overdue


@shared_task(name="roleplay.tasks.end_overdue_sessions", ignore_result=True, time_limit=120, soft_time_limit=100)
def end_overdue_sessions() -> list[int]:
    """End live sessions whose time is up (beat: every minute). Returns the ended ids."""
    return sessions_end_overdue()


@shared_task(name="roleplay.tasks.remind_starting_sessions", ignore_result=True, time_limit=120, soft_time_limit=100)
def remind_starting_sessions() -> int:
    """ "Starts in 5 minutes" notifications (beat: every minute; idempotent). Returns how many were created."""
    return sessions_remind_starting()


@shared_task(
    name="roleplay.tasks.send_notification_email",
    ignore_result=True,
    time_limit=60,
    soft_time_limit=50,
    autoretry_for=(OSError,),
    retry_backoff=30,
    max_retries=5,
)
def send_notification_email(notification_id: int) -> bool:
    """E-mail one notification (once; skipped when e-mail is off for the user or not configured)."""
    return notification_email_send(notification_id=notification_id)
