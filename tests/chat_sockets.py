"""Helpers for tests that talk to the chat consumer through ``WebsocketCommunicator``."""

from __future__ import annotations

import asyncio

from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from roleplay.routing import websocket_urlpatterns

APP = URLRouter(websocket_urlpatterns)
TIMEOUT = 5


async def open_socket(user, session_id: int, *, timeout: float = TIMEOUT):  # noqa: ASYNC109
    """(communicator, connected, close code) for ``user`` on the session's socket."""
    comm = WebsocketCommunicator(APP, f"/ws/sessions/{session_id}/")
    comm.scope["user"] = user
    connected, code = await comm.connect(timeout=timeout)
    return comm, connected, code


async def receive_type(comm, type_: str, timeout: float = TIMEOUT, into: list | None = None) -> dict:  # noqa: ASYNC109
    """Next frame of ``type_``; the frames skipped on the way are appended to ``into``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        frame = await comm.receive_json_from(timeout=max(0.05, deadline - loop.time()))
        if frame["type"] == type_:
            return frame
        if into is not None:
            into.append(frame)


async def joined(user, session_id: int, *, timeout: float = TIMEOUT):  # noqa: ASYNC109
    """A connected socket that has received its ``hello``: (communicator, hello frame)."""
    comm, connected, code = await open_socket(user, session_id, timeout=timeout)
    assert connected, code
    hello = await receive_type(comm, "hello", timeout)
    return comm, hello


async def drain(comm, wait: float = 0.5) -> list[dict]:
    """Every frame that arrives until the socket stays quiet for ``wait`` seconds."""
    frames = []
    while not await comm.receive_nothing(timeout=wait):
        frames.append(await comm.receive_json_from())
    return frames


async def connected(user, session_id: int, *, timeout: float = TIMEOUT):  # noqa: ASYNC109
    """Like ``joined``, for tests that do not look at the ``hello`` frame: the communicator only."""
    comm, _hello = await joined(user, session_id, timeout=timeout)
    return comm
