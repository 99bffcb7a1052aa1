"""Live coaching through the real chat consumer and channel layer (Redis in CI): the counselor's socket gets
"coaching" frames after each of their messages; the client's socket never does."""

from __future__ import annotations

import asyncio
from functools import partial

import pytest
from asgiref.sync import sync_to_async

from models_ml.coaching.models import CoachingSettings
from roleplay.models import SessionSource, SessionStatus
from tests import chat_sockets

from .conftest import make_session

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]

TIMEOUT = 5
joined = partial(chat_sockets.connected, timeout=TIMEOUT)
drain = partial(chat_sockets.drain, wait=1.0)


async def frames_until(comm, type_: str) -> list[dict]:
    out = []
    while True:
        frame = await comm.receive_json_from(timeout=TIMEOUT)
        out.append(frame)
        if frame["type"] == type_:
            return out


async def test_counselor_socket_receives_coaching_frames_and_the_client_socket_never_does(layer):
    session = await sync_to_async(make_session)(status=SessionStatus.LIVE, source=SessionSource.AI)
    counselor = await joined(session.counselor, session.pk)
    client = await joined(session.client, session.pk)
    try:
        await counselor.send_json_to({"type": "message", "text": "それは辛かったんですね。", "client_msg_id": "c-1"})
        frames = await frames_until(counselor, "coaching")
        coaching = frames[-1]
        assert coaching["session_id"] == session.pk and coaching["seq"] == 11
        assert coaching["reflection_ratio"] == 0.5 and coaching["status"] == "no_model"
        await client.send_json_to({"type": "message", "text": "はい、本当に辛かったです。", "client_msg_id": "k-1"})
        assert (await frames_until(counselor, "message"))[-1]["seq"] == 12
        await counselor.send_json_to({"type": "message", "text": "いつからですか？", "client_msg_id": "c-2"})
        assert (await frames_until(counselor, "coaching"))[-1]["seq"] == 13
        client_frames = await drain(client)
        assert [f["seq"] for f in client_frames if f["type"] == "message"] == [11, 13]
        assert any(f["type"] == "ack" for f in client_frames)
        assert all(f["type"] != "coaching" for f in client_frames)
    finally:
        await counselor.disconnect()
        await client.disconnect()


async def test_no_coaching_frames_when_the_counselor_turned_it_off(layer):
    session = await sync_to_async(make_session)(status=SessionStatus.LIVE, source=SessionSource.AI)
    await sync_to_async(CoachingSettings.objects.create)(session=session, enabled=False)
    counselor = await joined(session.counselor, session.pk)
    try:
        await counselor.send_json_to({"type": "message", "text": "いつからですか？", "client_msg_id": "c-1"})
        frames = await frames_until(counselor, "ack")
        frames += await drain(counselor, wait=0.8)
        assert all(f["type"] != "coaching" for f in frames)
    finally:
        await counselor.disconnect()
    await asyncio.sleep(0)


@pytest.mark.redis
async def test_a_real_celery_worker_pushes_coaching_to_the_counselor_only(layer, redis_required, settings):
    """Services mode: message → on_commit → Redis broker → worker thread → Redis channel layer → socket."""
    from celery.contrib.testing.worker import start_worker

    from kokoro_site.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    session = await sync_to_async(make_session)(status=SessionStatus.LIVE, source=SessionSource.AI)
    counselor = await joined(session.counselor, session.pk)
    client = await joined(session.client, session.pk)
    worker = start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, queues=["default"])
    await sync_to_async(worker.__enter__, thread_sensitive=False)()
    try:
        await counselor.send_json_to(
            {"type": "message", "text": "どんなことがあったか教えてください。", "client_msg_id": "c-1"}
        )
        coaching = (await frames_until(counselor, "coaching"))[-1]
        assert coaching["seq"] == 11 and coaching["question_ratio"] == pytest.approx(4 / 6, abs=1e-3)
        assert all(f["type"] != "coaching" for f in await drain(client))
    finally:
        await sync_to_async(worker.__exit__, thread_sensitive=False)(None, None, None)
        await counselor.disconnect()
        await client.disconnect()
