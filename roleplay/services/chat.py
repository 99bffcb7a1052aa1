"""Chat writes: validate, number (per-session seq under a row lock) and store a message.

A message is stored before anyone is told about it; the sender's ``client_msg_id`` makes
a resend idempotent (the stored original is returned).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from roleplay.models import Message, Role, Session, SessionStatus
from roleplay.signals import message_created

logger = logging.getLogger(__name__)

ERR_EMPTY_MESSAGE = _("The message is empty.")
ERR_MESSAGE_TOO_LONG = _("The message is too long (at most %(max)d characters).")
ERR_BAD_JSON = _("The frame is not valid JSON.")
ERR_UNKNOWN_TYPE = _("Unknown frame type.")
ERR_BAD_FRAME = _("The frame is missing a field or has a wrong value.")
ERR_NOT_STARTED = _("The session has not started yet.")
ERR_ENDED = _("The session has ended.")
ERR_READ_ONLY = _("You are watching this session and cannot send messages.")
ERR_RATE_LIMITED = _("You are sending too fast. Please wait a moment.")
ERR_BAD_CLIENT_ID = _("The message id is invalid.")
ERR_SERVER = _("The message could not be saved. Please send it again.")

CLIENT_MSG_ID_MAX = 64


class ChatError(Exception):
    """A refused chat action; ``code`` is stable for clients, ``message`` is for people."""

    def __init__(self, code: str, message) -> None:
        super().__init__(str(message))
        self.code = code
        self.message = message


@dataclass(frozen=True)
class StoredMessage:
    message: Message
    created: bool


def message_text_clean(text: object) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ChatError("empty", ERR_EMPTY_MESSAGE)
    limit = settings.KOKORO_MAX_MESSAGE_CHARS
    if len(text) > limit:
        raise ChatError("too_long", ERR_MESSAGE_TOO_LONG % {"max": limit})
    return text


def _client_msg_id_clean(client_msg_id: object) -> str | None:
    if client_msg_id is None or client_msg_id == "":
        return None
    if not isinstance(client_msg_id, str) or len(client_msg_id) > CLIENT_MSG_ID_MAX:
        raise ChatError("bad_client_msg_id", ERR_BAD_CLIENT_ID)
    return client_msg_id


@transaction.atomic
def message_create(
    *, session_id: int, user, text: object, client_msg_id: object = None, rate_limit: bool = True
) -> StoredMessage:
    """Store a participant's message with the next sequence number of its session.

    ``rate_limit=False`` is for server-side senders (the AI practice partners' bot accounts, which
    speak in many sessions at once). ``message_created`` is sent once the transaction commits."""
    client_msg_id = _client_msg_id_clean(client_msg_id)
    session = Session.objects.select_for_update().filter(pk=session_id).first()
    if session is None:  # deleted while a socket was open
        raise ChatError("ended", ERR_ENDED)
    role = session.role_of(user)
    if role is None:
        raise ChatError("read_only", ERR_READ_ONLY)
    if client_msg_id is not None:
        existing = Message.objects.filter(session_id=session_id, client_msg_id=client_msg_id).first()
        if existing is not None:
            return StoredMessage(existing, created=False)
    text = message_text_clean(text)
    now = timezone.now()
    if session.status in (SessionStatus.ENDED, SessionStatus.CANCELLED) or now >= session.ends_at:
        raise ChatError("ended", ERR_ENDED)
    if now < session.starts_at:
        raise ChatError("not_started", ERR_NOT_STARTED)
    if rate_limit and not chat_rate_allow(user_id=user.pk):
        raise ChatError("rate_limited", ERR_RATE_LIMITED)
    if session.status == SessionStatus.SCHEDULED:
        session.status = SessionStatus.LIVE
        session.started_at = now
        session.save(update_fields=["status", "started_at"])
    message = _message_append(
        session=session, role=role, sender=user, text=text, created_at=now, client_msg_id=client_msg_id
    )
    info = {
        "session_id": session.pk,
        "message_id": message.pk,
        "seq": message.seq,
        "role": role,
        "sender_id": user.pk,
        "source": session.source,  # lets receivers skip sessions they do not serve without a query
    }
    transaction.on_commit(lambda: _announce(info))
    return StoredMessage(message, created=True)


def _message_append(
    *, session: Session, role: str, sender, text: str, created_at, client_msg_id: str | None = None
) -> Message:
    """The one place a message gets its number: ``session`` is locked (select_for_update) by the caller."""
    session.last_seq += 1
    session.save(update_fields=["last_seq"])
    return Message.objects.create(
        session=session,
        seq=session.last_seq,
        role=role,
        sender=sender,
        text=text,
        created_at=created_at,
        client_msg_id=client_msg_id,
    )


@transaction.atomic
def messages_record(*, session_id: int, turns: Sequence[tuple[str, str, datetime]]) -> list[Message]:
    """Append an already-timed transcript, ``(role, text, created_at)`` per message (demo seed data).

    Same numbering and lock as ``message_create``; no rate limit and no ``message_created`` signal (nobody
    is chatting). The participant of each role is the sender. Refuses empty or over-long text."""
    session = Session.objects.select_for_update().get(pk=session_id)
    stored = []
    for role, text, created_at in turns:
        if role not in (Role.COUNSELOR, Role.CLIENT):
            raise ChatError("bad_frame", ERR_BAD_FRAME)
        sender = session.counselor if role == Role.COUNSELOR else session.client
        stored.append(
            _message_append(
                session=session, role=role, sender=sender, text=message_text_clean(text), created_at=created_at
            )
        )
    return stored


def _announce(info: dict) -> None:
    # A failing receiver must not turn a stored message into a "not saved" error for its sender.
    for receiver, result in message_created.send_robust(sender=Message, **info):
        if isinstance(result, Exception):
            logger.error("message_created receiver %r failed", receiver, exc_info=result)


# --- Per-user rate limit (sliding window) -------------------------------------------------
# Services mode: a Redis sorted set per user, shared by every server process.
# Embedded mode: an in-process window (one server process).

_local_lock = threading.Lock()
_local_windows: dict[int, list[float]] = {}


def _rate_prefix() -> str:
    config = settings.CHANNEL_LAYERS.get("default", {}).get("CONFIG", {})
    return f"{config.get('prefix', 'kokoro')}:chat-rate:"


@lru_cache(maxsize=4)
def _redis_client(url: str):
    import redis

    return redis.Redis.from_url(url)


def chat_rate_allow(*, user_id: int) -> bool:
    """Count one message for ``user_id``; False (and not counted) when over the limit."""
    limit = settings.KOKORO_CHAT_RATE_LIMIT
    window = settings.KOKORO_CHAT_RATE_WINDOW_S
    now = time.time()
    if settings.REDIS_URL:
        key = f"{_rate_prefix()}{user_id}"
        member = f"{now:.6f}-{threading.get_ident()}-{time.monotonic_ns()}"
        pipe = _redis_client(settings.REDIS_URL).pipeline(transaction=True)
        pipe.zremrangebyscore(key, 0, now - window)
        pipe.zadd(key, {member: now})
        pipe.zcard(key)
        pipe.expire(key, window + 1)
        count = pipe.execute()[2]
        if count > limit:
            _redis_client(settings.REDIS_URL).zrem(key, member)
            return False
        return True
    with _local_lock:
        stamps = [t for t in _local_windows.get(user_id, []) if t > now - window]
        if len(stamps) >= limit:
            _local_windows[user_id] = stamps
            return False
        stamps.append(now)
        _local_windows[user_id] = stamps
        return True


def chat_rate_reset() -> None:
    """Forget every rate window (tests, and after changing the limits)."""
    if settings.REDIS_URL:
        client = _redis_client(settings.REDIS_URL)
        keys = list(client.scan_iter(match=f"{_rate_prefix()}*", count=500))
        if keys:
            client.delete(*keys)
    with _local_lock:
        _local_windows.clear()
