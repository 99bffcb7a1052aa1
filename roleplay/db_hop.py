"""The sockets' database work: one hop per frame to a thread that owns its connection.

``db_hop(func)`` makes ``await func(...)`` run ``func`` on a database thread, like channels'
``database_sync_to_async``, with two differences:

* the connection's life is handled inside the hop (``close_old_connections`` before and after,
  on the thread that runs ``func``): ``CONN_MAX_AGE`` and the closing of a connection that
  failed hold for every call. channels leaves it to ``channels.db.close_old_connections``, which
  ``channels.testing``'s communicator replaces with a no-op while a test awaits the socket; a
  connection opened by the login check at connect then outlived a database outage in the
  fault test and stored a message through it (issue 14's regression, docs/benchmarks.md);
* on PostgreSQL the hops of all sockets share a bounded pool of ``KOKORO_DB_THREADS`` threads,
  so a process holds at most that many connections whatever the number of sockets. On SQLite
  (embedded mode, one writer at a time) every hop runs on Django's single sync thread.

asgiref's ``SyncToAsync`` still carries the call, so ``async_to_sync`` inside ``func`` (channel
layer sends of the services) goes back to the socket's event loop.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import SyncToAsync
from django.conf import settings
from django.db import close_old_connections

PARALLEL_DB = not settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
_EXECUTOR = ThreadPoolExecutor(max_workers=settings.KOKORO_DB_THREADS, thread_name_prefix="kokoro-db")


def _managed(func, *args, **kwargs):
    close_old_connections()
    try:
        return func(*args, **kwargs)
    finally:
        close_old_connections()


def db_hop(func):
    """``await db_hop(func)(...)``: ``func(...)`` on a database thread (see the module)."""
    managed = functools.update_wrapper(functools.partial(_managed, func), func)
    if PARALLEL_DB:
        return SyncToAsync(managed, thread_sensitive=False, executor=_EXECUTOR)
    return SyncToAsync(managed, thread_sensitive=True)
