"""Sockets end with the login (docs/protocol.md, "The login ends the socket").

A socket is bound to the login (Django session) it was opened with. It is closed with
``CLOSE_LOGIN_ENDED`` (4401) when that login ends:

* log-out: ``user_logged_out`` sends ``login.revoked`` with the session key to the user's
  group (``user_group``); the sockets of that login close at once;
* a password change or a deactivation (or deletion) of the user: after the commit, a
  ``login.revoked`` without a key closes every socket of the user. The browser that changed
  the password is still signed in (``update_session_auth_hash`` gave its login a new key):
  its page reloads on 4401 and opens a new socket;
* expiry: each socket re-checks at its login's expiry time (an idle timeout, see
  ``SESSION_COOKIE_AGE``) and closes unless the login was extended meanwhile;
* and received frames are checked against the database, so nothing is accepted from a login
  that ended even when the channel layer lost the event: a ``message`` in the very statement
  that stores it (``services.chat.fast_sql``: the password hash and the session row), ``sync``
  and ``end`` in the same database hop as their work; frames that neither read nor write
  anything (``ping``, ``typing``, refused frames) accept a check made less than
  ``RECHECK_S`` seconds ago, so they need no database (and a ping is answered while the
  database is unreachable).

Chat activity counts as activity for the idle timeout: a checked frame pushes the login's
expiry forward (at most once a minute).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from importlib import import_module

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models import Subquery
from django.db.models.signals import post_delete, post_save, pre_save
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from roleplay.db_hop import db_hop
from roleplay.services.chat import LoginCheck

logger = logging.getLogger(__name__)

# Documented in docs/protocol.md: not signed in (at the handshake) / the login ended (later).
CLOSE_LOGIN_ENDED = 4401
EXTEND_EVERY = timedelta(minutes=1)
RECHECK_S = 10.0
NEVER = datetime.max.replace(tzinfo=UTC)


class LoginEnded(Exception):
    """Raised where a frame would be acted on after its socket's login ended."""


def user_group(user_id: int) -> str:
    return f"user_{user_id}"


def login_revoke(*, user_id: int, session_key: str | None = None) -> None:
    """Close the user's sockets of one login (``session_key``) or of every login (None)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(user_group(user_id), {"type": "login.revoked", "session_key": session_key})
    except Exception as exc:  # the per-frame check still refuses every later frame
        logger.warning("user %s: login revocation not broadcast (%s)", user_id, exc)


def _db_sessions() -> bool:
    return settings.SESSION_ENGINE in (
        "django.contrib.sessions.backends.db",
        "django.contrib.sessions.backends.cached_db",
    )


def _auth_hash(password: str) -> str:
    return get_user_model()(password=password).get_session_auth_hash()


def login_expiry_sync(user_id: int, session_key: str | None, auth_hash: str, *, extend: bool = False):
    """When the login ends (an aware datetime, or ``datetime.max`` when unknown); None if ended."""
    return login_check_sync(user_id, session_key, auth_hash, extend=extend)[0]


def login_check_sync(user_id: int, session_key: str | None, auth_hash: str, *, extend: bool = False):
    """(when the login ends, the user's password hash it was checked against); (None, None) if ended.

    One query (it runs before every frame): the user is active, its password hash is the one
    the login was made with (``auth_hash``, from the session at connect), and the login's
    session row still exists unexpired. A session key is bound to one user: log-in, log-out and
    ``update_session_auth_hash`` all give a new key. Without a session key (a socket given a user
    directly) only the user is checked.
    """
    users = get_user_model().objects.filter(pk=user_id, is_active=True)
    by_row = session_key is not None and _db_sessions()
    if by_row:
        from django.contrib.sessions.models import Session as LoginSession

        live = LoginSession.objects.filter(session_key=session_key, expire_date__gt=timezone.now())
        row = users.annotate(login_expires=Subquery(live.values("expire_date")[:1])).values("password", "login_expires")
    else:
        row = users.values("password")
    row = row.first()
    if row is None or not constant_time_compare(auth_hash, _auth_hash(row["password"])):
        return None, None
    password = row["password"]
    if session_key is None:
        return NEVER, password
    if not by_row:  # another session engine: load it
        data = import_module(settings.SESSION_ENGINE).SessionStore(session_key).load()
        return (NEVER, password) if data.get(SESSION_KEY) == str(user_id) else (None, None)
    expires = row["login_expires"]
    if expires is None:
        return None, None
    fresh = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    if extend and fresh - expires >= EXTEND_EVERY:
        live.update(expire_date=fresh)
        expires = fresh
    return expires, password


def login_fast_check(login: tuple[int, str | None, str], password: str | None) -> LoginCheck | None:
    """What the fast statement (``services.chat.fast_sql``) checks the login against (None: no fast path, the full check
    runs): the password hash seen by the last full check, and the session row, extended when
    due as ``login_expiry_sync(extend=True)`` does."""
    if password is None or (login[1] is not None and not _db_sessions()):
        return None
    fresh = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    return LoginCheck(password=password, session_key=login[1], extend_before=fresh - EXTEND_EVERY, extended=fresh)


def socket_login(scope: dict) -> tuple[int, str | None, str]:
    """(user id, session key or None, the session's password hash) of a socket's login."""
    user = scope["user"]
    session = scope.get("session")
    key = getattr(session, "session_key", None)
    auth_hash = (session.get(HASH_SESSION_KEY) if key else None) or user.get_session_auth_hash()
    return user.pk, key, auth_hash


login_check = db_hop(login_check_sync)


class LoginBoundSocket:
    """Consumer mixin: ``login_bind`` after accepting, ``login_ok`` before handling any frame,
    ``login_unbind`` on disconnect; ``login.revoked`` group events arrive at ``login_revoked``."""

    _login: tuple[int, str | None, str]
    _login_ended: bool = False
    _login_timer: asyncio.Task | None = None
    _login_password: str | None = None  # the password hash of the last full check
    _login_checked_at: float = float("-inf")  # time.monotonic() of the last check that passed
    _login_expires: datetime = NEVER  # the login's end seen by the last full check

    def login_checked(self, password: str | None, expires: datetime | None = None) -> None:
        """Record a check that passed (made by the caller in its own database hop)."""
        if password is not None:
            self._login_password = password
        if expires is not None:
            self._login_expires = expires
        self._login_checked_at = time.monotonic()

    def _login_recent(self) -> bool:
        """Checked less than RECHECK_S ago, and not due for an extension (that needs the database)."""
        if time.monotonic() - self._login_checked_at >= RECHECK_S:
            return False
        due = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE) - EXTEND_EVERY
        return self._login_expires > due

    async def login_bind(self) -> bool:
        """Join the user's group and watch the login's expiry; False if it already ended."""
        self._login = socket_login(self.scope)
        expires, password = await login_check(*self._login)
        if expires is None:
            await self.login_end()
            return False
        self.login_checked(password, expires)
        await self.channel_layer.group_add(user_group(self._login[0]), self.channel_name)
        self._watch_expiry(expires)
        return True

    async def login_unbind(self) -> None:
        if self._login_timer is not None:
            self._login_timer.cancel()
        if getattr(self, "_login", None) is None:
            return
        try:
            await self.channel_layer.group_discard(user_group(self._login[0]), self.channel_name)
        except Exception as exc:  # Redis down: the subscription dies with the connection anyway
            logger.warning("user %s: group_discard failed (%s)", self._login[0], exc)

    async def login_ok(self, *, recent: bool = False) -> bool:
        """Checked before a received frame: False (and the socket closing) once it ended.
        ``recent``: a check that passed less than ``RECHECK_S`` seconds ago is enough."""
        if self._login_ended:
            return False
        if recent and self._login_recent():
            return True
        expires, password = await login_check(*self._login, extend=True)
        if expires is None:
            await self.login_end()
            return False
        self.login_checked(password, expires)
        return True

    async def login_end(self) -> None:
        if self._login_ended:
            return
        self._login_ended = True
        if self._login_timer is not None and self._login_timer is not asyncio.current_task():
            self._login_timer.cancel()
        try:
            await self.close(code=CLOSE_LOGIN_ENDED)
        except Exception as exc:  # the client is already gone
            logger.info("user %s: socket already closed (%s)", self._login[0], exc)

    async def login_revoked(self, event: dict) -> None:
        key = event.get("session_key")
        if key is None or key == self._login[1]:
            await self.login_end()

    def _watch_expiry(self, expires: datetime) -> None:
        if expires < NEVER - timedelta(days=1):
            self._login_timer = asyncio.ensure_future(self._expire_at(expires))

    async def _expire_at(self, expires: datetime) -> None:
        while True:
            await asyncio.sleep(max(0.0, (expires - timezone.now()).total_seconds()) + 0.05)
            try:
                expires, password = await login_check(*self._login)
            except Exception as exc:  # database down: the next frame is checked again
                logger.warning("user %s: login expiry check failed (%s)", self._login[0], exc)
                return
            if expires is None:
                await self.login_end()
                return
            self.login_checked(password, expires)


# --- signals: what ends a login ---------------------------------------------------------------
def _on_logout(sender, request, user, **kwargs) -> None:
    key = getattr(getattr(request, "session", None), "session_key", None)
    if user is not None and key:
        login_revoke(user_id=user.pk, session_key=key)


def _before_user_save(sender, instance, update_fields=None, **kwargs) -> None:
    if instance.pk is None or (update_fields is not None and not {"password", "is_active"} & set(update_fields)):
        return
    old = sender.objects.filter(pk=instance.pk).values("password", "is_active").first()
    instance._kokoro_login_changed = old is not None and (
        old["password"] != instance.password or (old["is_active"] and not instance.is_active)
    )


def _after_user_save(sender, instance, **kwargs) -> None:
    if getattr(instance, "_kokoro_login_changed", False):
        instance._kokoro_login_changed = False
        user_id = instance.pk
        transaction.on_commit(lambda: login_revoke(user_id=user_id))


def _after_user_delete(sender, instance, **kwargs) -> None:
    user_id = instance.pk
    transaction.on_commit(lambda: login_revoke(user_id=user_id))


def connect_signals() -> None:
    """Called from ``RoleplayConfig.ready``."""
    user_model = get_user_model()
    user_logged_out.connect(_on_logout, dispatch_uid="kokoro_socket_logout")
    pre_save.connect(_before_user_save, sender=user_model, dispatch_uid="kokoro_socket_user_pre_save")
    post_save.connect(_after_user_save, sender=user_model, dispatch_uid="kokoro_socket_user_post_save")
    post_delete.connect(_after_user_delete, sender=user_model, dispatch_uid="kokoro_socket_user_delete")
