"""Signal receivers: each new counselor message queues the live coaching update (when it is on)."""

from __future__ import annotations

from django.db import transaction

from roleplay.models import Role

from . import selectors, services


def on_message_created(sender, *, session_id: int, seq: int, role: str, source: str | None = None, **kwargs) -> None:
    if not wants_messages(session_id=session_id, role=role, source=source):
        return
    transaction.on_commit(lambda: services.live_coaching_queue(session_id=session_id, seq=seq))


def wants_messages(*, session_id: int, role: str, source: str | None) -> bool:
    """``roleplay.signals.message_interest``: the counselor's messages while live coaching is on."""
    return role == Role.COUNSELOR and selectors.live_enabled(session_id=session_id, source=source)
