"""The common case of storing a chat message, in the socket's event loop (issue 19).

``message_store_in_loop`` runs the fast statement (``roleplay.services.chat.fast_sql``) (login still valid, session
live, sender a participant, id new, under the rate limit: the seq allocated and the row inserted in
one round trip, autocommit) on an async psycopg connection of this event loop, so the common message
costs no database-thread hop (the GIL hand-over and thread wake-ups were ~0.7 ms of CPU per message,
docs/benchmarks.md). Anything else gives None, with nothing stored, and the caller takes the full
path on a database thread (``roleplay.socket_db.store``), which gives the exact answer.

Each event loop has at most ``KOKORO_DB_ASYNC_CONNECTIONS`` connections, opened on demand with the
``default`` database's parameters; a connection is closed after any error but a unique violation, and
the idle ones are dropped when those parameters change; a message with a ``client_msg_id`` whose
pooled connection turns out dead (the database restarted) is retried once on a new one. A database error is raised as Django's
``OperationalError`` (what the socket already answers with ``server_error``). PostgreSQL only.
"""

from __future__ import annotations

import asyncio
import weakref

from django.conf import settings
from django.db import OperationalError, connections

from roleplay.services.chat import LoginCheck, StoredMessage, fast_params, fast_sql, fast_stored

CONNECT_TIMEOUT_S = 5
APPLICATION_NAME = "kokoro-chat-loop"  # pg_stat_activity shows which connections these are


def enabled() -> bool:
    return connections["default"].vendor == "postgresql"


def _settings_key() -> tuple:
    """What the connections depend on, read per message: a change drops the idle ones."""
    db = connections["default"].settings_dict
    return db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], repr(db["OPTIONS"])


def _connect_params() -> dict:
    """The ``default`` database's psycopg parameters (only when a connection is opened)."""
    params = connections["default"].get_connection_params()
    params.pop("cursor_factory", None)  # Django's sync cursor class; an async connection has its own
    params.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
    params.setdefault("application_name", APPLICATION_NAME)
    return params


class _Pool:
    def __init__(self, size: int) -> None:
        self.slots = asyncio.Semaphore(size)
        self.idle: list = []
        self.key: tuple | None = None

    async def _take(self) -> tuple:
        """(a connection, whether it was idle in the pool)."""
        import psycopg

        key = _settings_key()
        if key != self.key:  # the database settings changed: the idle ones point elsewhere
            self.drop_idle()
            self.key = key
        if self.idle:
            return self.idle.pop(), True
        return await psycopg.AsyncConnection.connect(autocommit=True, **_connect_params()), False

    def drop_idle(self) -> None:
        while self.idle:
            _close_now(self.idle.pop())

    async def fetchone(self, sql: str, params: dict, *, retry: bool) -> tuple | None:
        """The statement's row (None: no row, or the same ``client_msg_id`` stored meanwhile).

        ``retry``: a connection that waited in the pool and fails (the database restarted meanwhile) is
        replaced once by a new one; only for a message with a ``client_msg_id``, whose resend can never
        store it twice (if the first try did store it, the retry finds it and returns no row)."""
        import psycopg

        async with self.slots:
            for attempt in (1, 2):
                try:
                    conn, reused = await self._take()
                except psycopg.Error as exc:
                    raise OperationalError(str(exc)) from exc
                try:
                    cursor = await conn.execute(sql, params)
                    row = await cursor.fetchone()
                except psycopg.errors.UniqueViolation:
                    self.idle.append(conn)  # autocommit: nothing left open on it
                    return None
                except psycopg.OperationalError as exc:
                    _close_now(conn)
                    if reused and retry and attempt == 1:
                        self.drop_idle()  # they went down with it
                        continue
                    raise OperationalError(str(exc)) from exc
                except BaseException as exc:  # other errors, cancelled mid-statement: never reuse it
                    _close_now(conn)
                    if isinstance(exc, psycopg.Error):
                        raise OperationalError(str(exc)) from exc
                    raise
                self.idle.append(conn)
                return row
        return None  # not reached: the second attempt returns or raises


def _close_now(conn) -> None:
    """Close without awaiting (works from any thread and after the loop stopped)."""
    try:
        conn.pgconn.finish()
    except Exception:  # already gone
        pass


_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pool] = weakref.WeakKeyDictionary()


def _pool() -> _Pool:
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None:
        pool = _pools[loop] = _Pool(max(1, int(settings.KOKORO_DB_ASYNC_CONNECTIONS)))
    return pool


def close_all(loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Close the idle connections of ``loop``'s pool, or of every loop's (tests, before the test
    database is dropped)."""
    pools = list(_pools.values()) if loop is None else [p for p in (_pools.get(loop),) if p is not None]
    for pool in pools:
        pool.drop_idle()


async def message_store_in_loop(
    *, session_id: int, user_id: int, text: object, client_msg_id: object, login: LoginCheck
) -> tuple[StoredMessage, dict] | None:
    """(the stored message, its ``message_created`` info), or None: nothing stored, take the full path."""
    params = fast_params(session_id=session_id, user_id=user_id, text=text, client_msg_id=client_msg_id, login=login)
    if params is None:
        return None
    row = await _pool().fetchone(fast_sql(), params, retry=params["cid"] is not None)
    return None if row is None else fast_stored(params, row)
