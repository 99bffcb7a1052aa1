"""Chat writes: validate, number (per-session seq under a row lock) and store a message.

A message is stored before anyone is told about it; the sender's ``client_msg_id`` makes
a resend idempotent (the stored original is returned).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from django.conf import settings
from django.db import transaction
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
    if rate_limit and chat_rate_exceeded(user_id=user.pk, now=now):
        raise ChatError("rate_limited", ERR_RATE_LIMITED)
    if session.status == SessionStatus.SCHEDULED:
        session.status = SessionStatus.LIVE
        session.started_at = now
        session.save(update_fields=["status", "started_at"])
    message = _message_append(
        session=session, role=role, sender=user, text=text, created_at=now, client_msg_id=client_msg_id
    )
    info = _created_info(message, source=session.source)
    transaction.on_commit(lambda: message_announce(info))
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
    """What a socket's login is checked against in the fast statement (``fast_sql``, see socket_auth):
    the user's password hash as it was when the login was verified, and the login's session key
    (None: the user only). A session row expiring before ``extend_before`` is extended to
    ``extended`` (chat activity counts as activity, as in ``login_expiry_sync``)."""

    password: str
    session_key: str | None
    extend_before: datetime
    extended: datetime


@lru_cache(maxsize=1)  # built once per process (the table names are known only once apps are ready)
def fast_sql() -> str:
    """The common case of ``message_create`` as one statement (one round trip, autocommit; run by the
    chat socket in its event loop, ``roleplay.loop_store``): the login is still valid, the session is
    live, the sender takes part, the id is new and the rate limit allows it. The session row's UPDATE
    takes the same lock and hands out the same next seq; the login's expiry is extended as the full
    check does. No row when any of that does not hold, nothing stored: the caller then takes the full
    path (the login check and ``message_create``), which gives the exact answer (the login ended, a
    duplicate, an error code, the start of a scheduled session, over the rate limit)."""
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
      AND (SELECT count(*) FROM (
          SELECT 1 FROM {Message._meta.db_table} r
          WHERE r.sender_id = %(uid)s AND r.created_at > %(rate_since)s LIMIT %(rate_limit)s) recent) < %(rate_limit)s
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


def fast_params(
    *, session_id: int, user_id: int, text: object, client_msg_id: object, login: LoginCheck
) -> dict | None:
    """The parameters of the fast statement (``fast_sql``), or None when the frame is not the common
    case (a text or id the full path refuses with its exact error)."""
    try:
        client_msg_id = _client_msg_id_clean(client_msg_id)
        text = message_text_clean(text)
    except ChatError:
        return None
    now = timezone.now()
    return {
        "uid": user_id,
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
        "rate_since": now - timedelta(seconds=settings.KOKORO_CHAT_RATE_WINDOW_S),
        "rate_limit": max(0, int(settings.KOKORO_CHAT_RATE_LIMIT)),
    }


def fast_stored(params: dict, row: tuple) -> tuple[StoredMessage, dict]:
    """The stored message and the ``message_created`` info of the fast statement's row."""
    message_id, seq, role, source = row
    message = Message(
        id=message_id, session_id=params["sid"], seq=seq, role=role, sender_id=params["uid"],
        text=params["text"], created_at=params["now"], client_msg_id=params["cid"],
    )  # fmt: skip
    return StoredMessage(message, created=True), _created_info(message, source=source)


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


def _created_info(message: Message, *, source: str) -> dict:
    """The ``message_created`` keyword arguments of a newly stored message (roleplay/signals.py)."""
    return {
        "session_id": message.session_id,
        "message_id": message.pk,
        "seq": message.seq,
        "role": message.role,
        "sender_id": message.sender_id,
        "source": source,  # lets receivers skip sessions they do not serve without a query
    }


def message_announce(info: dict) -> None:
    """Send ``message_created`` for a stored message (after its commit)."""
    # A failing receiver must not turn a stored message into a "not saved" error for its sender.
    for receiver, result in message_created.send_robust(sender=Message, **info):
        if isinstance(result, Exception):
            logger.error("message_created receiver %r failed", receiver, exc_info=result)


# --- Per-user rate limit (sliding window) -------------------------------------------------
# Counted in the database: the messages the user stored in the last KOKORO_CHAT_RATE_WINDOW_S
# (index message_sender_time_idx), the same count in every server process and in embedded mode.
# The fast statement counts the same rows (``rate_since``/``rate_limit`` of ``fast_params``).


def chat_rate_exceeded(*, user_id: int, now: datetime | None = None) -> bool:
    """True when ``user_id`` already stored ``KOKORO_CHAT_RATE_LIMIT`` messages in the window."""
    now = now or timezone.now()
    limit = settings.KOKORO_CHAT_RATE_LIMIT
    since = now - timedelta(seconds=settings.KOKORO_CHAT_RATE_WINDOW_S)
    recent = Message.objects.filter(sender_id=user_id, created_at__gt=since).values_list("pk", flat=True)[:limit]
    return limit <= 0 or len(recent) >= limit
