"""Scale-out (issue 19): separate server processes share the Redis layer and PostgreSQL.

Two real uvicorn processes (subprocesses, services mode): the counselor's socket on one, the
client's on the other. Every message reaches the socket on the other process with the seq the
database gave it, in send order, so a proxy may send a page to any process (no sticky sessions).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.db import connections

from roleplay.models import Message
from tests.conftest import REPO_ROOT
from tests.factories import SessionFactory
from tests.test_faults import ChatClient, _cookie, _free_port, _until


def _server(port: int, env: dict) -> subprocess.Popen:
    command = [sys.executable, "-m", "uvicorn", "kokoro_site.asgi:application", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--ws", "websockets-sansio", "--log-level", "warning"]
    return subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_listening(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode(errors="replace"))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("uvicorn did not start")


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.timeout(150)
def test_two_server_processes_deliver_across_processes(transactional_db, postgres_required, redis_required):
    db = connections["default"].settings_dict
    database_url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "kokoro_site.settings.test",
        "DATABASE_URL": database_url,  # the test database
        "REDIS_URL": settings.REDIS_URL,
        "KOKORO_CHANNEL_PREFIX": settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
    }
    session = SessionFactory()
    cookies = {"counselor": _cookie(session.counselor), "client": _cookie(session.client)}
    ports = {"counselor": _free_port(), "client": _free_port()}
    procs = {role: _server(port, env) for role, port in ports.items()}
    try:
        for role, port in ports.items():
            _wait_listening(port, procs[role])
        clients = {
            role: ChatClient(
                f"ws://127.0.0.1:{ports[role]}/ws/sessions/{session.pk}/",
                f"http://127.0.0.1:{ports[role]}",
                cookies[role],
                role,
            )
            for role in ports
        }

        async def scenario() -> None:
            tasks = [asyncio.create_task(c.run()) for c in clients.values()]
            both = list(clients.values())
            assert await _until(lambda: all(c.ws is not None for c in both), 30)
            await asyncio.sleep(1.0)  # joined the group
            for i in range(5):
                for role, c in clients.items():
                    await c.send(f"{role}-{i}", f"別プロセス {role} {i}")
            assert await _until(lambda: all(not c.pending for c in both), 20)
            assert await _until(lambda: all(len(c.seen) == 10 for c in both), 20), [len(c.seen) for c in both]
            for c in both:
                c.stop = True
                if c.ws is not None:
                    await c.ws.close()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run(scenario())
    finally:
        for proc in procs.values():
            proc.terminate()
            proc.wait(timeout=20)

    stored = list(Message.objects.filter(session=session).order_by("seq").values_list("seq", "client_msg_id"))
    assert [seq for seq, _ in stored] == list(range(1, 11))
    for role, c in clients.items():
        partner = "client" if role == "counselor" else "counselor"
        assert sorted(c.seen) == list(range(1, 11)), role  # own acks + the partner's, each seq once
        got = [c.seen[seq]["client_msg_id"] for seq in sorted(c.seen) if c.seen[seq]["role"] == partner]
        assert got == [f"{partner}-{i}" for i in range(5)]  # the partner's, in send order
        assert not c.errors, c.errors
