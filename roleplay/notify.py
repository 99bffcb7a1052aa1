"""Push events to the browsers of one session (sync code: services, Celery tasks).

The channel layer delivers at most once: an event is a hint to the page; what it shows
must also be loadable from the database (on reload or resync).
"""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer


def session_group(session_id: int) -> str:
    return f"session_{session_id}"


def session_notify(*, session_id: int, event: dict, audience: tuple[str, ...] | None = None) -> None:
    """Send ``event`` (a JSON-able dict with a ``type`` key) to the session's sockets.

    ``audience`` limits it to sockets whose role is listed ("counselor", "client", "observer");
    ``None`` means everyone connected to the session.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    async_to_sync(layer.group_send)(
        session_group(session_id),
        {"type": "session.event", "event": event, "audience": list(audience) if audience else None},
    )


def session_interest_changed(*, session_id: int) -> None:
    """After the current transaction commits, tell the session's chat sockets to ask
    ``roleplay.signals.message_interest`` again (a receiver's settings for the session changed)."""
    from django.db import transaction

    def send() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            async_to_sync(layer.group_send)(session_group(session_id), {"type": "chat.interest"})
        except Exception:  # a hint only: the sockets ask again within KOKORO_CHAT_INTEREST_S anyway
            pass

    transaction.on_commit(send)


def user_group(user_id: int) -> str:
    return f"user_{user_id}"


def user_notify(*, user_id: int, event: dict) -> None:
    """Send ``event`` to every open page of one user (the notification socket, ``ws/notifications/``)."""
    layer = get_channel_layer()
    if layer is None:
        return
    async_to_sync(layer.group_send)(user_group(user_id), {"type": "user.event", "event": event})
