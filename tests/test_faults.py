"""Faults: Redis restarted under live sessions, the database lost on join and mid-session.

The Redis test starts its OWN ``redis-server`` on a free port (never the shared one), points the
channel layer and the chat rate limiter at it, runs the real ASGI app (uvicorn in a thread) and
drives two ``websockets`` clients that behave like ``static/js/chat.js``: resend unacknowledged
messages with the same ``client_msg_id``, reconnect with backoff, ``sync`` from the last seq.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

import pytest
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import channel_layers
from django.db import connections

from roleplay.models import Message, Session
from tests.conftest import REPO_ROOT, require, uses_postgres
from tests.factories import SessionFactory

REDIS_SERVER = shutil.which("redis-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OwnRedis:
    """A throw-away redis-server (no persistence) that can be killed and restarted on its port."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture
def own_redis():
    if REDIS_SERVER is None:
        require(False, "redis-server is not installed")
    redis = OwnRedis()
    redis.start()
    yield redis
    redis.kill()


@pytest.fixture
def live_server_on_own_redis(own_redis, transactional_db, settings):
    from tests.browser.conftest import LiveServer

    settings.REDIS_URL = own_redis.url  # the chat rate limiter shares the outage
    settings.KOKORO_CHAT_RATE_LIMIT = 1000
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [{"address": own_redis.url, "socket_timeout": 15, "socket_connect_timeout": 2}],
                "prefix": "kokoro_faults",
            },
        }
    }
    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
    server = LiveServer()
    server.start()
    yield server
    server.stop()
    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
    connections.close_all()


def _cookie(user) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


@dataclass
class ChatClient:
    """What chat.js does, in a test: pending resends, reconnect with backoff, sync by seq."""

    url: str
    origin: str
    cookie: str
    role: str
    pending: dict[str, str] = field(default_factory=dict)  # client_msg_id -> text, not yet acked
    acked: dict[str, int] = field(default_factory=dict)  # client_msg_id -> seq
    seen: dict[int, dict] = field(default_factory=dict)  # seq -> message frame (own + partner)
    closes: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    ws: object = None
    stop: bool = False

    def last_contiguous(self) -> int:
        n = 0
        while n + 1 in self.seen:
            n += 1
        return n

    async def run(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, InvalidStatus

        backoff = 0.2
        while not self.stop:
            try:
                async with connect(
                    self.url, origin=self.origin, additional_headers={"Cookie": f"sessionid={self.cookie}"}
                ) as ws:
                    self.ws = ws
                    backoff = 0.2
                    async for raw in ws:
                        await self._on_frame(ws, json.loads(raw))
                    self.closes.append(ws.close_code)
            except (ConnectionClosed, InvalidStatus, OSError) as exc:
                self.closes.append(repr(exc))
            self.ws = None
            if not self.stop:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    async def _on_frame(self, ws, frame: dict) -> None:
        kind = frame["type"]
        if kind == "hello":  # (re)connected: catch up, then resend what was never acked
            await ws.send(json.dumps({"type": "sync", "after": self.last_contiguous()}))
            for cid, text in list(self.pending.items()):
                await ws.send(json.dumps({"type": "message", "text": text, "client_msg_id": cid}))
        elif kind == "message":
            self.seen[frame["seq"]] = frame
            if frame["seq"] > self.last_contiguous() + 1:  # a gap: a broadcast was lost
                await ws.send(json.dumps({"type": "sync", "after": self.last_contiguous()}))
        elif kind == "sync":
            for m in frame["messages"]:
                self.seen[m["seq"]] = m
        elif kind == "ack":
            self.acked[frame["client_msg_id"]] = frame["seq"]
            self.seen[frame["seq"]] = frame["message"]
            self.pending.pop(frame["client_msg_id"], None)
        elif kind == "error":
            self.errors.append(frame)

    async def send(self, cid: str, text: str) -> None:
        self.pending[cid] = text
        if self.ws is not None:
            try:
                await self.ws.send(json.dumps({"type": "message", "text": text, "client_msg_id": cid}))
            except Exception:  # closed meanwhile: resent on the next hello
                pass

    async def resend_pending(self) -> None:
        for cid, text in list(self.pending.items()):
            await self.send(cid, text)

    async def sync(self) -> None:
        if self.ws is not None:
            await self.ws.send(json.dumps({"type": "sync", "after": 0}))


async def _until(predicate, timeout: float, tick=None) -> bool:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if tick is not None:
            await tick()
        await asyncio.sleep(0.5)
    return predicate()


@pytest.mark.redis
@pytest.mark.timeout(120)
def test_redis_restart_mid_session_loses_nothing_that_was_acknowledged(live_server_on_own_redis, own_redis):
    session = SessionFactory()
    server = live_server_on_own_redis
    ws_url = f"ws://127.0.0.1:{server.port}/ws/sessions/{session.pk}/"
    origin = f"http://127.0.0.1:{server.port}"
    clients = {
        "counselor": ChatClient(ws_url, origin, _cookie(session.counselor), "counselor"),
        "client": ChatClient(ws_url, origin, _cookie(session.client), "client"),
    }

    async def scenario() -> None:
        tasks = [asyncio.create_task(c.run()) for c in clients.values()]
        both = list(clients.values())

        async def resend_all() -> None:
            for c in both:
                await c.resend_pending()

        assert await _until(lambda: all(c.ws is not None for c in both), 15)
        await asyncio.sleep(0.5)  # joined the group
        for i in range(3):  # before the outage: delivered live
            for role, c in clients.items():
                await c.send(f"{role}-before-{i}", f"障害前 {role} {i}")
        assert await _until(lambda: all(not c.pending for c in both), 15)
        assert await _until(lambda: all(len(c.seen) == 6 for c in both), 10), [len(c.seen) for c in both]

        own_redis.kill()  # Redis gone: layer and rate limiter unreachable
        for i in range(3):
            for role, c in clients.items():
                await c.send(f"{role}-during-{i}", f"障害中 {role} {i}")
        await asyncio.sleep(2)
        own_redis.start()  # back, empty (no persistence): subscriptions must be made again

        for i in range(3):
            for role, c in clients.items():
                await c.send(f"{role}-after-{i}", f"障害後 {role} {i}")
        # Every message is acknowledged in the end (resent by id until it is).
        assert await _until(lambda: all(not c.pending for c in both), 60, tick=resend_all), [
            (c.role, sorted(c.pending), c.closes, c.errors[-3:]) for c in both
        ]
        # And delivered to both sides after resync (a final sync stands in for the next gap/reload).
        for c in both:
            await c.sync()
        assert await _until(lambda: all(len(c.seen) == 18 for c in both), 20), [len(c.seen) for c in both]
        for c in both:
            c.stop = True
            if c.ws is not None:
                await c.ws.close()
        await asyncio.wait(tasks, timeout=10)

    asyncio.run(scenario())

    stored = {m.client_msg_id: m for m in Message.objects.filter(session=session)}
    seqs = sorted(m.seq for m in stored.values())
    assert seqs == list(range(1, 19)), seqs  # 18 messages, no gap, no duplicate
    assert Session.objects.get(pk=session.pk).last_seq == 18
    for c in clients.values():
        for cid, seq in c.acked.items():
            assert stored[cid].seq == seq  # what was acknowledged is what is stored
        assert {s: f["client_msg_id"] for s, f in c.seen.items()} == {m.seq: cid for cid, m in stored.items()}
        assert [e["code"] for e in c.errors if e["code"] != "server_error"] == []


# --- the database unavailable ---------------------------------------------------------------

# A socket join in a fresh process whose database is a closed port: the session lookup of
# AuthMiddlewareStack is the first thing to fail.
_JOIN_SCRIPT = """
import asyncio, json, logging, sys
import django
django.setup()
from channels.testing import WebsocketCommunicator
from kokoro_site.asgi import application

logging.basicConfig(stream=sys.stderr, level=logging.WARNING)

async def main():
    comm = WebsocketCommunicator(
        application, "/ws/sessions/1/",
        headers=[(b"origin", b"http://localhost"), (b"host", b"localhost"), (b"cookie", b"sessionid=" + b"x" * 32)],
    )
    connected, _ = await comm.connect(timeout=10)
    frames = []
    while True:
        out = await comm.receive_output(timeout=10)
        if out["type"] == "websocket.close":
            print(json.dumps({"connected": connected, "frames": frames, "close": out.get("code")}))
            return
        frames.append(json.loads(out["text"]))

asyncio.run(main())
"""


def test_socket_join_with_the_database_unreachable_gets_an_error_frame_and_1013_not_a_traceback():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "kokoro_site.settings.test",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:1/unreachable",
    }
    env.pop("REDIS_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", _JOIN_SCRIPT], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["close"] == 1013
    assert [f["code"] for f in outcome["frames"]] == ["server_error"]
    assert outcome["frames"][0]["message"]
    assert "Traceback" not in result.stderr
    assert "database unavailable" in result.stderr


@pytest.fixture
def database_switch(transactional_db):
    """Point new database connections at a closed port (and back), in every thread."""
    require(uses_postgres(), "PostgreSQL is not configured (set DATABASE_URL)")
    db = connections.settings["default"]
    original = db["PORT"]

    def down() -> None:
        db["PORT"] = str(_free_port())  # nothing listens there
        connections.close_all()

    def up() -> None:
        db["PORT"] = original

    yield down, up
    up()


@pytest.mark.postgres
@pytest.mark.timeout(60)
async def test_database_lost_mid_session_gives_error_frames_stores_nothing_and_recovers(database_switch, caplog):
    from channels.db import database_sync_to_async as sync_to_async  # closes its connections
    from channels.layers import get_channel_layer
    from channels.routing import URLRouter
    from channels.testing import WebsocketCommunicator

    from roleplay import loop_store
    from roleplay.routing import websocket_urlpatterns

    down, up = database_switch
    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
    session = await sync_to_async(SessionFactory)()
    comm = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/sessions/{session.pk}/")
    comm.scope["user"] = session.client
    assert (await comm.connect(timeout=5))[0]
    assert (await comm.receive_json_from(timeout=5))["type"] == "hello"

    await sync_to_async(down)()
    try:
        await comm.send_json_to({"type": "message", "text": "届くかな", "client_msg_id": "db-1"})
        frame = await comm.receive_json_from(timeout=15)
        assert frame["type"] == "error" and frame["code"] == "server_error" and frame["client_msg_id"] == "db-1"
        await comm.send_json_to({"type": "sync", "after": 0})
        frame = await comm.receive_json_from(timeout=15)
        assert frame["type"] == "error" and frame["code"] == "server_error"
        await comm.send_json_to({"type": "ping"})  # the socket is still there
        assert (await comm.receive_json_from(timeout=5))["type"] == "pong"
    finally:
        await sync_to_async(up)()
    # Back: the resend with the same id is stored once.
    await comm.send_json_to({"type": "message", "text": "届くかな", "client_msg_id": "db-1"})
    ack = await comm.receive_json_from(timeout=10)
    assert ack["type"] == "ack" and ack["seq"] == 1 and ack["duplicate"] is False
    assert await sync_to_async(Message.objects.filter(session_id=session.pk).count)() == 1
    await comm.disconnect()
    layer = get_channel_layer()
    if hasattr(layer, "close_pools"):
        await layer.close_pools()
    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
    loop_store.close_all()
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert not tracebacks, [r.getMessage() for r in tracebacks]


# --- a Celery worker killed during an AI reply (models_ml.practice) ---------------------------
# (Fine-tuning jobs: tests/models_ml/finetuning/test_worker.py kills a real worker mid-job.)


@pytest.mark.django_db
def test_ai_reply_left_generating_by_a_killed_worker_is_retryable_once_stale():
    """A worker killed mid-generation never reports back: the reply stays "generating". The
    trainee's retry is refused while it may still be running, and accepted once it is stale."""
    from datetime import timedelta

    from django.utils import timezone

    practice_models = pytest.importorskip("models_ml.practice.models")
    services = pytest.importorskip("models_ml.practice.services")

    session = SessionFactory()
    practice = practice_models.PracticeSession.objects.create(
        session=session, ai_role="counselor", state=practice_models.GenerationState.GENERATING
    )
    with pytest.raises(services.PracticeError) as refused:
        services.practice_reply_retry(session_id=session.pk, user=session.client)
    assert refused.value.code == "busy"

    stale = timezone.now() - timedelta(seconds=services.soft_time_limit_s() + 61)
    practice_models.PracticeSession.objects.filter(pk=practice.pk).update(updated_at=stale)
    services.practice_reply_retry(session_id=session.pk, user=session.client)
    practice.refresh_from_db()
    assert practice.state == practice_models.GenerationState.IDLE
    assert Message.objects.filter(session=session).count() == 0  # nothing half-saved
