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
    connected, code = await handshake(comm, timeout=timeout)
    return comm, connected, code


async def handshake(comm, *, timeout: float = TIMEOUT):  # noqa: ASYNC109
    """``comm.connect()``, except that a socket accepted only to be closed at once with a code
    (how the consumer refuses: 4401 / 4403 reach the browser as close codes, not as an HTTP
    403) counts as refused: (False, code)."""
    connected, code = await comm.connect(timeout=timeout)
    if not connected:
        return connected, code
    outputs = [await comm.receive_output(timeout)]
    if outputs[0]["type"] == "websocket.close":
        return False, outputs[0].get("code")
    queue = comm.output_queue
    while not queue.empty():
        outputs.append(queue.get_nowait())
    for output in outputs:
        queue.put_nowait(output)
    return True, None


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
