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
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kokoro_site.errors import ServiceError
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

CLIENT_MSG_ID_MAX = 64


class ChatError(ServiceError):
    """A refused chat action; ``code`` is stable for clients, ``message`` is for people."""


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
        # Per sender: an id the partner used is not ours (never answer with the partner's message).
        existing = Message.objects.filter(session_id=session_id, sender=user, client_msg_id=client_msg_id).first()
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


@dataclass(frozen=True)
class LoginCheck:
    """What a socket's login is checked against in ``message_create_fast`` (see socket_auth):
    the user's password hash as it was when the login was verified, and the login's session key
    (None: the user only). A session row expiring before ``extend_before`` is extended to
    ``extended`` (chat activity counts as activity, as in ``login_expiry_sync``)."""

    password: str
    session_key: str | None
    extend_before: datetime
    extended: datetime


@lru_cache(maxsize=1)  # built once per process (the table names are known only once apps are ready)
def _fast_sql() -> str:
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.models import Session as LoginSession

    return f"""
WITH login AS (
    SELECT 1 FROM {get_user_model()._meta.db_table} u
    WHERE u.id = %(uid)s AND u.is_active AND u.password = %(password)s
      AND (%(key)s::text IS NULL OR EXISTS (
          SELECT 1 FROM {LoginSession._meta.db_table} l
          WHERE l.session_key = %(key)s AND l.expire_date > %(now)s))
), extended AS (
    UPDATE {LoginSession._meta.db_table} SET expire_date = %(extended)s
    WHERE session_key = %(key)s AND expire_date > %(now)s AND expire_date < %(extend_before)s
      AND EXISTS (SELECT 1 FROM login)
), numbered AS (
    UPDATE {Session._meta.db_table} s SET last_seq = s.last_seq + 1
    WHERE s.id = %(sid)s AND EXISTS (SELECT 1 FROM login) AND s.status = %(live)s
      AND s.starts_at <= %(now)s AND s.starts_at + make_interval(mins => s.duration_minutes) > %(now)s
      AND (s.counselor_id = %(uid)s OR s.client_id = %(uid)s)
      AND (%(cid)s::text IS NULL OR NOT EXISTS (
          SELECT 1 FROM {Message._meta.db_table} m
          WHERE m.session_id = %(sid)s AND m.sender_id = %(uid)s AND m.client_msg_id = %(cid)s))
    RETURNING s.id, s.last_seq, s.source,
        CASE WHEN s.counselor_id = %(uid)s THEN %(counselor)s ELSE %(client)s END AS role
)
INSERT INTO {Message._meta.db_table} (session_id, seq, role, sender_id, text, created_at, client_msg_id)
SELECT id, last_seq, role, %(uid)s, %(text)s, %(now)s, %(cid)s FROM numbered
RETURNING id, seq, role, (SELECT source FROM numbered)
"""


def message_create_fast(
    *, session_id: int, user, text: object, client_msg_id: object, login: LoginCheck
) -> StoredMessage | None:
    """The common case of ``message_create`` as one statement (one round trip, autocommit): the
    login is still valid, the session is live, the sender takes part, the id is new and the
    rate limit allows it. The session row's UPDATE takes the same lock and hands out the same
    next seq; the login's expiry is extended as the full check does. None when any of that does
    not hold, nothing stored and nothing counted: the caller then takes the full path (the login
    check and ``message_create``), which gives the exact answer (the login ended, a duplicate,
    an error code, the start of a scheduled session)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return None
    try:
        client_msg_id = _client_msg_id_clean(client_msg_id)
        text = message_text_clean(text)
    except ChatError:
        return None
    token = chat_rate_take(user_id=user.pk)
    if token is None:
        return None
    now = timezone.now()
    params = {
        "uid": user.pk,
        "password": login.password,
        "key": login.session_key,
        "extend_before": login.extend_before,
        "extended": login.extended,
        "sid": session_id,
        "live": SessionStatus.LIVE,
        "now": now,
        "cid": client_msg_id,
        "text": text,
        "counselor": Role.COUNSELOR,
        "client": Role.CLIENT,
    }
    try:
        with connection.cursor() as cursor:
            cursor.execute(_fast_sql(), params)
            row = cursor.fetchone()
    except IntegrityError:  # the same id stored meanwhile by another socket: the full path says so
        row = None
    if row is None:
        chat_rate_give_back(user_id=user.pk, token=token)
        return None
    message_id, seq, role, source = row
    message = Message(
        id=message_id, session_id=session_id, seq=seq, role=role, sender_id=user.pk,
        text=text, created_at=now, client_msg_id=client_msg_id,
    )  # fmt: skip
    _announce(
        {"session_id": session_id, "message_id": message_id, "seq": seq, "role": role, "sender_id": user.pk,
         "source": source}
    )  # fmt: skip
    return StoredMessage(message, created=True)


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


# One round trip: drop the old stamps, refuse when full (not counted), else count this one.
_RATE_SCRIPT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


@lru_cache(maxsize=4)
def _rate_script(url: str):
    return _redis_client(url).register_script(_RATE_SCRIPT)


def chat_rate_take(*, user_id: int) -> str | None:
    """Count one message for ``user_id``: a token for ``chat_rate_give_back``, or None (and not
    counted) when over the limit."""
    limit = settings.KOKORO_CHAT_RATE_LIMIT
    window = settings.KOKORO_CHAT_RATE_WINDOW_S
    now = time.time()
    if settings.REDIS_URL:
        member = f"{now:.6f}-{threading.get_ident()}-{time.monotonic_ns()}"
        key = f"{_rate_prefix()}{user_id}"
        allowed = _rate_script(settings.REDIS_URL)(keys=[key], args=[f"{now:.6f}", window, limit, member, window + 1])
        return member if allowed else None
    with _local_lock:
        stamps = [t for t in _local_windows.get(user_id, []) if t > now - window]
        _local_windows[user_id] = stamps
        if len(stamps) >= limit:
            return None
        stamps.append(now)
        return repr(now)


def chat_rate_give_back(*, user_id: int, token: str) -> None:
    """Un-count a message counted by ``chat_rate_take`` that was not stored after all."""
    if settings.REDIS_URL:
        _redis_client(settings.REDIS_URL).zrem(f"{_rate_prefix()}{user_id}", token)
        return
    with _local_lock:
        stamps = _local_windows.get(user_id, [])
        if float(token) in stamps:
            stamps.remove(float(token))


def chat_rate_allow(*, user_id: int) -> bool:
    """Count one message for ``user_id``; False (and not counted) when over the limit."""
    return chat_rate_take(user_id=user_id) is not None


def chat_rate_reset() -> None:
    """Forget every rate window (tests, and after changing the limits)."""
    if settings.REDIS_URL:
        client = _redis_client(settings.REDIS_URL)
        keys = list(client.scan_iter(match=f"{_rate_prefix()}*", count=500))
        if keys:
            client.delete(*keys)
    with _local_lock:
        _local_windows.clear()
