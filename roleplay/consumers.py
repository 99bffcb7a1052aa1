"""Realtime chat socket: ``ws/sessions/<id>/``. Frames are documented in docs/protocol.md.

Thin: every decision and every write is in ``roleplay.services``; reads are in
``roleplay.selectors``. ORM work runs in the small ``roleplay.socket_db`` helpers (one ``db_hop`` per frame).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from kokoro_site.errors import ERR_SERVER
from roleplay import loop_store, socket_db
from roleplay.models import Session, SessionStatus
from roleplay.notify import session_group
from roleplay.selectors.chat import OBSERVER, message_frame
from roleplay.services.chat import (
    ERR_BAD_CLIENT_ID,
    ERR_BAD_FRAME,
    ERR_BAD_JSON,
    ERR_RATE_LIMITED,
    ERR_READ_ONLY,
    ERR_UNKNOWN_TYPE,
    ChatError,
)
from roleplay.services.sessions import SessionError, session_next_url
from roleplay.socket_auth import CLOSE_LOGIN_ENDED, LoginBoundSocket, LoginEnded, login_fast_check
from roleplay.socket_throttle import SocketThrottle

logger = logging.getLogger(__name__)

# Handshake refusals are sent as close codes (accepted, then closed at once), as documented.
CLOSE_ANONYMOUS = CLOSE_LOGIN_ENDED  # 4401: not signed in, or the login ended later
CLOSE_FORBIDDEN = 4403
# The channel layer (Redis) is unreachable: "try again later"; pages reconnect and resync by seq.
CLOSE_LAYER_DOWN = 1013
# The database is unreachable while joining: same meaning, pages reconnect with backoff.
CLOSE_DB_DOWN = 1013
OUTBOX_DRAIN_S = 10
DB_ERRORS = (OperationalError, InterfaceError)
try:  # the channel layer's Redis (services mode: login groups)
    from redis.exceptions import RedisError

    SERVICE_ERRORS: tuple[type[Exception], ...] = (*DB_ERRORS, RedisError)
except ImportError:  # pragma: no cover - redis is a dependency of channels-redis
    SERVICE_ERRORS = DB_ERRORS


def _unstorable(value: object) -> bool:
    """A string the database cannot hold: NUL (PostgreSQL text) or a lone surrogate (not UTF-8).

    Both arrive as valid JSON (``"\\u0000"``, ``"\\ud800"``); refused up front as a bad frame
    instead of failing inside the store with a misleading "send again".
    """
    if not isinstance(value, str):
        return False
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class ChatConsumer(LoginBoundSocket, AsyncJsonWebsocketConsumer):
    session_id: int
    role: str | None = None
    group: str = ""
    _timers: list[asyncio.Task]
    _interest_at: float = float("-inf")
    _interest_wanted: bool = True

    async def dispatch(self, message: dict) -> None:
        """channels' dispatch without its hop to ``close_old_connections`` before every event (a
        thread hop per received frame and per group event): this consumer's database work runs
        in ``roleplay.db_hop``, which looks after its connections itself."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # --- connection -------------------------------------------------------------------
    async def connect(self) -> None:
        self._timers = []
        self._throttle = SocketThrottle()
        self._typing_pending: bool | None = None
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self._refuse(CLOSE_ANONYMOUS)
            return
        self.session_id = int(self.scope["url_route"]["kwargs"]["session_id"])
        try:
            session, role = await socket_db.load(self.session_id, user)
        except DB_ERRORS as exc:
            logger.warning("session %s: database unavailable on connect (%s)", self.session_id, exc)
            await self._refuse_for_now(CLOSE_DB_DOWN)
            return
        if session is None or role is None:
            await self._refuse(CLOSE_FORBIDDEN)
            return
        self.role = role
        self.group = session_group(self.session_id)
        # Sends are stored one after another by a worker task, so that storing (a DB round
        # trip under the session lock) never holds up the delivery of the partner's messages.
        self._outbox: asyncio.Queue = asyncio.Queue()
        self._worker = asyncio.ensure_future(self._outbox_worker())
        await self.accept()
        try:
            await self.channel_layer.group_add(self.group, self.channel_name)
        except Exception as exc:  # Redis down: refuse for now, the page reconnects and resyncs
            logger.warning("session %s: channel layer unavailable on connect (%s)", self.session_id, exc)
            self.group = ""
            self._worker.cancel()
            await self._error("server_error", ERR_SERVER)
            await self.close(code=CLOSE_LAYER_DOWN)
            return
        try:
            if not await self.login_bind():
                return
            if role == OBSERVER:  # staff watching someone else's session: audit-logged
                await socket_db.audit_watch(user, self.session_id)
        except SERVICE_ERRORS as exc:
            logger.warning("session %s: login check unavailable on connect (%s)", self.session_id, exc)
            await self._error("server_error", ERR_SERVER)
            await self.close(code=CLOSE_DB_DOWN)
            return
        if role != OBSERVER:
            try:
                session = await socket_db.touch(session)
                await self._interest()  # asked at join, so that messages seldom need to ask
            except DB_ERRORS as exc:
                logger.warning("session %s: database unavailable on connect (%s)", self.session_id, exc)
                await self._error("server_error", ERR_SERVER)
                await self.close(code=CLOSE_DB_DOWN)
                return
            # Announced before the hello, so that whoever joins later gets a reply from us.
            await self._group("chat.presence", {"role": role, "online": True, "channel": self.channel_name})
        await self.send_json(self._hello(session))
        self._schedule_timers(session)

    async def disconnect(self, code: int) -> None:
        for task in getattr(self, "_timers", []):
            task.cancel()
        await self.login_unbind()
        if not self.group:
            return
        # Frames already received are still stored and broadcast (the sender resyncs by id).
        self._outbox.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(self._worker), timeout=OUTBOX_DRAIN_S)
        except (TimeoutError, asyncio.CancelledError):
            self._worker.cancel()
        if self.role not in (None, OBSERVER):
            await self._group("chat.presence", {"role": self.role, "online": False, "channel": self.channel_name})
        try:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        except Exception as exc:  # Redis down: the subscription dies with the connection anyway
            logger.warning("session %s: group_discard failed (%s)", self.session_id, exc)

    def _hello(self, session: Session) -> dict:
        return {
            "type": "hello",
            "role": self.role,
            "session_id": session.pk,
            "status": session.status,
            "starts_at": session.starts_at.isoformat(),
            "ends_at": session.ends_at.isoformat(),
            "server_time": timezone.now().isoformat(),
            "last_seq": session.last_seq,
            "next_url": session_next_url(session_id=session.pk, role=self.role, source=session.source)
            if session.status == SessionStatus.ENDED
            else None,
        }

    # --- timers: begin at starts_at, end at ends_at --------------------------------------
    def _schedule_timers(self, session: Session) -> None:
        if self.role == OBSERVER or session.status not in (SessionStatus.SCHEDULED, SessionStatus.LIVE):
            return
        now = timezone.now()
        if session.status == SessionStatus.SCHEDULED and session.starts_at > now:
            self._timers.append(asyncio.ensure_future(self._at((session.starts_at - now).total_seconds())))
        self._timers.append(asyncio.ensure_future(self._at((session.ends_at - now).total_seconds())))

    async def _at(self, delay: float) -> None:
        await asyncio.sleep(max(0.0, delay) + 0.05)
        try:
            session = Session(pk=self.session_id)
            await socket_db.touch(session)
        except Exception:
            logger.exception("session %s timer failed", self.session_id)

    # --- client -> server -------------------------------------------------------------
    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        if self._login_ended:  # nothing is accepted from a login that ended
            return
        try:
            content = json.loads(text_data if text_data is not None else bytes_data)
        except (TypeError, ValueError):
            content = None
        type_ = content.get("type") if isinstance(content, dict) else None
        if not self._throttle.allow(type_ if isinstance(type_, str) else ""):
            if type_ in ("message", "sync"):  # a reply per message / sync, as documented
                await self._error("rate_limited", ERR_RATE_LIMITED, content.get("client_msg_id"))
            return
        try:  # the login may have ended (logout, password change, expiry) since the last frame:
            # message, sync and end check it in their own database hop; the others (nothing read
            # or written) accept a recent check (socket_auth.RECHECK_S)
            if type_ not in ("message", "sync", "end") and not await self.login_ok(recent=True):
                return
        except DB_ERRORS as exc:
            logger.warning("session %s: database unavailable for the login check (%s)", self.session_id, exc)
            await self._error("server_error", ERR_SERVER)
            return
        if not isinstance(content, dict):
            await self._error("bad_json", ERR_BAD_JSON)
            return
        await self.receive_json(content)

    async def receive_json(self, content: dict, **kwargs) -> None:
        type_ = content.get("type")
        handlers = {
            "message": self._on_message,
            "sync": self._on_sync,
            "typing": self._on_typing,
            "end": self._on_end,
            "ping": self._on_ping,
        }
        # A non-string type (a list, an object) is unhashable: refuse it, do not crash the socket.
        handler = handlers.get(type_) if isinstance(type_, str) else None
        if handler is None:
            await self._error("unknown_type", ERR_UNKNOWN_TYPE)
            return
        await handler(content)

    async def _on_message(self, content: dict) -> None:
        if self.role == OBSERVER:
            await self._error("read_only", ERR_READ_ONLY, content.get("client_msg_id"))
            return
        client_msg_id = content.get("client_msg_id")
        if _unstorable(client_msg_id):
            await self._error("bad_client_msg_id", ERR_BAD_CLIENT_ID)
            return
        if _unstorable(content.get("text")):
            await self._error("bad_frame", ERR_BAD_FRAME, client_msg_id)
            return
        self._outbox.put_nowait(content)

    async def _outbox_worker(self) -> None:
        while True:
            content = await self._outbox.get()
            if content is None:
                return
            try:
                await self._store_and_broadcast(content)
            except SERVICE_ERRORS as exc:  # nothing was stored (the transaction rolled back)
                logger.warning("session %s: database or Redis unavailable while storing (%s)", self.session_id, exc)
                await self._error("server_error", ERR_SERVER, content.get("client_msg_id"))
            except Exception:
                logger.exception("session %s: storing a message failed", self.session_id)
                await self._error("server_error", ERR_SERVER, content.get("client_msg_id"))

    async def _store_and_broadcast(self, content: dict) -> None:
        client_msg_id = content.get("client_msg_id")
        if self._login_ended:
            return
        stored, info, checked = None, None, (None, None)
        fast = login_fast_check(self._login, self._login_password) if loop_store.enabled() else None
        if fast is not None:  # the common case in this event loop, no thread hop (roleplay.loop_store)
            done = await loop_store.message_store_in_loop(
                session_id=self.session_id, user_id=self.scope["user"].pk, text=content.get("text"),
                client_msg_id=client_msg_id, login=fast,
            )  # fmt: skip
            if done is not None:
                stored, info = done
        if stored is None:
            try:
                stored, checked = await socket_db.store(
                    self.session_id, self.scope["user"], content.get("text"), client_msg_id, self._login
                )
            except LoginEnded:
                await self.login_end()
                return
            except ChatError as exc:
                await self._error(exc.code, exc.message, client_msg_id)
                return
        self.login_checked(*checked)
        frame = message_frame(stored.message)
        if stored.created:  # stored and committed: now tell everyone else
            await self._group("chat.message", {"message": frame, "channel": self.channel_name})
        await self.send_json(
            {
                "type": "ack",
                "client_msg_id": stored.message.client_msg_id,
                "seq": stored.message.seq,
                "created_at": frame["created_at"],
                "duplicate": not stored.created,
                "message": frame,
            }
        )
        if info is not None and await self._interest():  # message_created, only where a receiver wants it
            await socket_db.announce(info)

    async def _interest(self) -> bool:
        """Does a receiver of ``message_created`` want this socket's messages (asked again every
        KOKORO_CHAT_INTEREST_S seconds and after a ``chat.interest`` event)?"""
        if time.monotonic() - self._interest_at > settings.KOKORO_CHAT_INTEREST_S:
            self._interest_wanted = await socket_db.interest(self.session_id, self.role)
            self._interest_at = time.monotonic()
        return self._interest_wanted

    async def _on_sync(self, content: dict) -> None:
        after = content.get("after", 0)
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            await self._error("bad_frame", ERR_BAD_FRAME)
            return
        try:
            frames, last_seq, checked = await socket_db.history(self.session_id, after, self._login)
        except LoginEnded:
            await self.login_end()
            return
        except DB_ERRORS as exc:
            logger.warning("session %s: database unavailable on sync (%s)", self.session_id, exc)
            await self._error("server_error", ERR_SERVER)
            return
        self.login_checked(*checked)
        await self.send_json(
            {
                "type": "sync",
                "after": after,
                "messages": frames,
                "last_seq": last_seq,
                "has_more": bool(frames) and frames[-1]["seq"] < last_seq,
            }
        )

    async def _on_typing(self, content: dict) -> None:
        if self.role == OBSERVER:
            return
        typing = content.get("typing", True)
        if not isinstance(typing, bool):
            await self._error("bad_frame", ERR_BAD_FRAME)
            return
        delay = self._throttle.typing_delay()
        if delay == 0:
            await self._group("chat.typing", {"role": self.role, "typing": typing, "channel": self.channel_name})
            return
        # Over 1 per interval: forward only the latest state, at the end of the interval.
        if self._typing_pending is None:
            self._timers = [task for task in self._timers if not task.done()]
            self._timers.append(asyncio.ensure_future(self._typing_flush(delay)))
        self._typing_pending = typing

    async def _typing_flush(self, delay: float) -> None:
        await asyncio.sleep(delay)
        typing, self._typing_pending = self._typing_pending, None
        if typing is not None and not self._login_ended:
            self._throttle.typing_sent()
            await self._group("chat.typing", {"role": self.role, "typing": typing, "channel": self.channel_name})

    async def _on_end(self, content: dict) -> None:
        if self.role == OBSERVER:
            await self._error("read_only", ERR_READ_ONLY)
            return
        try:
            self.login_checked(*await socket_db.end(self.session_id, self.scope["user"], self._login))
        except LoginEnded:
            await self.login_end()
        except SessionError as exc:
            await self._error(exc.code, exc.message)
        except DB_ERRORS as exc:
            logger.warning("session %s: database unavailable on end (%s)", self.session_id, exc)
            await self._error("server_error", ERR_SERVER)

    async def _on_ping(self, content: dict) -> None:
        await self.send_json({"type": "pong", "server_time": timezone.now().isoformat()})

    # --- group events -> this socket -----------------------------------------------------
    async def chat_interest(self, event: dict) -> None:
        self._interest_at = float("-inf")  # a receiver's settings for this session changed: ask again

    async def chat_message(self, event: dict) -> None:
        # The sending socket already has its message (the ack); other tabs get the copy.
        if event.get("channel") != self.channel_name:
            await self.send_json(event["message"])

    async def chat_typing(self, event: dict) -> None:
        if event["channel"] != self.channel_name:
            await self.send_json({"type": "typing", "role": event["role"], "typing": event["typing"]})

    async def chat_presence(self, event: dict) -> None:
        if event["channel"] == self.channel_name:
            return
        await self.send_json({"type": "presence", "role": event["role"], "online": event["online"]})
        if self.role == OBSERVER or event.get("reply"):
            return
        if event["online"] and event["role"] != self.role:
            # Tell the newcomer that we are here too.
            await self._send_to(
                event["channel"],
                {
                    "type": "chat.presence",
                    "role": self.role,
                    "online": True,
                    "channel": self.channel_name,
                    "reply": True,
                },
            )
        elif not event["online"] and event["role"] == self.role:
            # Another tab of ours closed: we are still online.
            await self._group(
                "chat.presence", {"role": self.role, "online": True, "channel": self.channel_name, "reply": True}
            )

    async def session_event(self, event: dict) -> None:
        """Events pushed by ``roleplay.notify.session_notify`` (services, Celery tasks)."""
        audience = event.get("audience")
        if audience is None or self.role in audience:
            payload = event["event"]
            if payload.get("type") == "ended":
                for task in self._timers:
                    task.cancel()
            elif payload.get("type") == "started" and payload.get("ends_at") and self.role != OBSERVER:
                # Started early from the waiting room: the time-up timer follows the new end.
                ends_at = datetime.fromisoformat(payload["ends_at"])
                self._timers.append(asyncio.ensure_future(self._at((ends_at - timezone.now()).total_seconds())))
            await self.send_json(payload)

    # --- helpers ----------------------------------------------------------------------
    async def _group(self, type_: str, payload: dict) -> bool:
        """Broadcast to the session; False when the layer is down (the database stays the truth:
        the partner recovers the message through ``sync`` on its next gap or reconnect)."""
        try:
            await self.channel_layer.group_send(self.group, {"type": type_, **payload})
        except Exception as exc:
            logger.warning("session %s: channel layer unavailable, %s not broadcast (%s)", self.session_id, type_, exc)
            return False
        return True

    async def _refuse(self, code: int) -> None:
        """Refuse with a documented close code (4401 / 4403): a close before the accept would
        reach the browser as a bare HTTP 403."""
        await self.accept()
        await self.close(code=code)

    async def _refuse_for_now(self, code: int) -> None:
        """Accept only to say why (an error frame), then close with a "try again later" code."""
        await self.accept()
        await self._error("server_error", ERR_SERVER)
        await self.close(code=code)

    async def _send_to(self, channel: str, message: dict) -> None:
        try:
            await self.channel_layer.send(channel, message)
        except Exception as exc:
            logger.warning("session %s: channel layer unavailable (%s)", self.session_id, exc)

    async def _error(self, code: str, message, client_msg_id=None) -> None:
        frame = {"type": "error", "code": code, "message": str(message)}
        if isinstance(client_msg_id, str):
            frame["client_msg_id"] = client_msg_id
        await self.send_json(frame)
