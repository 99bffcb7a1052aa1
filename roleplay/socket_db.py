"""The chat socket's database work: one hop per frame (``roleplay.db_hop``).

The frames that read or write (``message``, ``sync``, ``end``) check the socket's login in the
same hop as their work (see socket_auth), so a frame costs one thread hop. The common message
needs none: the socket stores it in its event loop (``roleplay.loop_store``) and comes here only
for the exact answer of the full path.
"""

from __future__ import annotations

from roleplay.db_hop import db_hop
from roleplay.models import EndReason, Session, TranscriptReadChannel
from roleplay.selectors.chat import message_frame, messages_after, session_role_for
from roleplay.services.audit import transcript_read_log
from roleplay.services.chat import ChatError, StoredMessage, message_announce, message_create
from roleplay.services.sessions import session_begin, session_end, session_end_if_overdue
from roleplay.signals import message_interest
from roleplay.socket_auth import LoginEnded, login_check_sync

Login = tuple[int, str | None, str]


@db_hop
def load(session_id: int, user) -> tuple[Session | None, str | None]:
    session = Session.objects.filter(pk=session_id).first()
    if session is None:
        return None, None
    return session, session_role_for(session=session, user=user)


@db_hop
def touch(session: Session) -> Session:
    """Lazy lifecycle on connect / timers: begin when due, end when overdue."""
    session.refresh_from_db()  # DoesNotExist (deleted meanwhile) is caught by the timer
    session_begin(session=session)
    session_end_if_overdue(session=session)
    return session


def _login_full(login: Login | None):
    """The full login check (extending it when due): (password, expires) for
    ``LoginBoundSocket.login_checked``; LoginEnded if it ended."""
    if login is None:
        return None, None
    expires, password = login_check_sync(*login, extend=True)
    if expires is None:
        raise LoginEnded
    return password, expires


@db_hop
def store(
    session_id: int,
    user,
    text,
    client_msg_id,
    login: Login | None = None,
) -> tuple[StoredMessage, tuple]:
    """Store a message by the full path: (the stored message, (password, expires) of the full login
    check). On PostgreSQL sends of different sessions are stored in parallel; the session row lock
    orders the sends of one session. Nothing is stored after the login ended."""
    checked = _login_full(login)
    try:
        return message_create(session_id=session_id, user=user, text=text, client_msg_id=client_msg_id), checked
    except ChatError as exc:
        session = Session.objects.filter(pk=session_id).first() if exc.code == "ended" else None
        if session is not None:  # lazy time-up: end it properly so everyone is sent on
            session_end_if_overdue(session=session)
        raise


@db_hop
def interest(session_id: int, role: str | None) -> bool:
    """``roleplay.signals.message_interest`` for this session's ``role``."""
    source = Session.objects.filter(pk=session_id).values_list("source", flat=True).first()
    return role is not None and message_interest(session_id=session_id, role=role, source=source)


@db_hop
def announce(info: dict) -> None:
    """``message_created`` for a message stored in the event loop (``roleplay.loop_store``)."""
    message_announce(info)


@db_hop
def history(session_id: int, after: int, login: Login | None = None) -> tuple[list[dict], int, tuple]:
    checked = _login_full(login)
    frames = [message_frame(m) for m in messages_after(session_id=session_id, after=after)]
    last_seq = Session.objects.filter(pk=session_id).values_list("last_seq", flat=True).first() or 0
    return frames, last_seq, checked


@db_hop
def audit_watch(user, session_id: int) -> None:
    transcript_read_log(user=user, session_id=session_id, channel=TranscriptReadChannel.SOCKET)


@db_hop
def end(session_id: int, user, login: Login | None = None) -> tuple:
    checked = _login_full(login)
    session = Session.objects.get(pk=session_id)
    session_end(session=session, reason=EndReason.COUNSELOR, by=user)
    return checked
