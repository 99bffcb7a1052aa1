"""The partner_reply task in the chat: deltas reach the trainee's socket (connected through the real consumer), exactly
one message is stored and broadcast, with the retrieval, hf and openai backends; ending, errors, retry, debounce;
and a real Celery worker against Redis."""

from __future__ import annotations

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.test import Client

from models_ml.llm.backends import ERR_ENDPOINT_UNREACHABLE
from models_ml.llm.rules import detect_closing
from models_ml.practice.models import GenerationState, PracticeSession
from models_ml.practice.services import ERR_UNREACHABLE, practice_reply_generate, practice_session_start
from roleplay.models import EndReason, Message, Role, Session, SessionStatus
from roleplay.services.chat import message_create
from tests.factories import UserFactory

from .conftest import OPENAI_REPLY, drain, joined, model_version, receive_type

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

start = sync_to_async(practice_session_start)
make_user = sync_to_async(UserFactory)
make_version = sync_to_async(model_version)


@sync_to_async
def ai_messages(session_id: int, role: str) -> list[Message]:
    return list(Message.objects.filter(session_id=session_id, role=role).order_by("seq"))


@sync_to_async
def practice_of(session_id: int) -> PracticeSession:
    return PracticeSession.objects.get(session_id=session_id)


@sync_to_async
def session_of(session_id: int) -> Session:
    return Session.objects.get(pk=session_id)


def generate_in_thread(session_id: int, after_seq: int):
    try:
        return practice_reply_generate(session_id=session_id, after_seq=after_seq)
    finally:
        connections.close_all()


async def say(comm, text: str, msg_id: str) -> None:
    await comm.send_json_to({"type": "message", "text": text, "client_msg_id": msg_id})


async def reply_frames(comm, ai_role: str) -> tuple[list[dict], dict]:
    """The ai.* events before the AI's stored message, and that message frame."""
    seen: list[dict] = []
    while True:
        frame = await receive_type(comm, "message", into=seen)
        if frame["role"] == ai_role:
            return [f for f in seen if f["type"].startswith("ai.")], frame


def assert_streamed(events: list[dict], message: dict) -> None:
    deltas = [e for e in events if e["type"] == "ai.delta"]
    assert events[0]["type"] == "ai.typing"
    assert len(deltas) >= 2  # token by token / chunk by chunk, not one block
    assert len({d["reply_id"] for d in deltas}) == 1
    assert "".join(d["delta"] for d in deltas).strip() == message["text"]


async def test_retrieval_ai_client_streams_its_reply_to_the_counselor_and_stores_one_message(
    layer, scored_sessions, role_card
):
    trainee = await make_user()
    session = await start(user=trainee, ai_role="client", role_card_id=role_card.pk)
    comm = await joined(trainee, session.pk)
    await say(comm, "こんにちは。今日はどのようなことでご相談にいらっしゃいましたか。", "m1")
    events, message = await reply_frames(comm, Role.CLIENT)
    assert_streamed(events, message)
    stored = await ai_messages(session.pk, Role.CLIENT)
    assert [(m.seq, m.text) for m in stored] == [(2, message["text"])]
    assert stored[0].sender_id == session.client_id and stored[0].created_at is not None
    assert (await practice_of(session.pk)).state == GenerationState.IDLE
    await comm.disconnect()


async def test_retrieval_ai_counselor_greets_then_answers_the_trainee_client(layer, scored_sessions):
    trainee = await make_user()
    session = await start(user=trainee, ai_role="counselor")
    greeting = await ai_messages(session.pk, Role.COUNSELOR)
    assert [m.seq for m in greeting] == [1]  # the AI counselor opened the conversation
    comm = await joined(trainee, session.pk)
    await say(comm, "最近、仕事のことで夜あまり眠れなくて。", "m1")
    events, message = await reply_frames(comm, Role.COUNSELOR)
    assert_streamed(events, message)
    assert len(await ai_messages(session.pk, Role.COUNSELOR)) == 2
    ended = (await session_of(session.pk)).status == SessionStatus.ENDED
    assert ended == (detect_closing(message["text"]) is not None)
    await comm.disconnect()


@pytest.mark.slow
async def test_hf_ai_counselor_streams_tokens_from_the_tiny_llama(layer, tiny_base_model):
    defaults = {"max_new_tokens": 12, "min_new_tokens": 6, "do_sample": False}
    version = await make_version(
        kind="counselor", backend="hf", config={"base_model": str(tiny_base_model), "defaults": defaults}
    )
    trainee = await make_user()
    session = await start(user=trainee, ai_role="counselor", model_version_id=version.pk)
    comm = await joined(trainee, session.pk)
    await say(comm, "最近、夜あまり眠れなくて。", "m1")
    events, message = await reply_frames(comm, Role.COUNSELOR)
    assert_streamed(events, message)
    assert [m.seq for m in await ai_messages(session.pk, Role.COUNSELOR)] == [1, 3]
    await comm.disconnect()


async def test_openai_ai_counselor_streams_the_endpoint_deltas(layer, openai_server):
    version = await make_version(kind="counselor", backend="openai", config={"base_url": openai_server, "model": "m"})
    trainee = await make_user()
    session = await start(user=trainee, ai_role="counselor", model_version_id=version.pk)
    comm = await joined(trainee, session.pk)
    await say(comm, "最近、夜あまり眠れなくて。", "m1")
    events, message = await reply_frames(comm, Role.COUNSELOR)
    assert_streamed(events, message)
    assert message["text"] == OPENAI_REPLY
    assert [m.text for m in await ai_messages(session.pk, Role.COUNSELOR)] == [OPENAI_REPLY, OPENAI_REPLY]
    await comm.disconnect()


async def test_ai_counselor_closing_reply_ends_the_session(layer, endpoint):
    version = await make_version(
        kind="counselor", backend="openai", config={"base_url": endpoint.base_url, "model": "scripted"}
    )
    closing = "今日はお話しいただきありがとうございました。どうぞお大事になさってください。"
    endpoint.reply.queue[:] = ["こんにちは、今日はどうされましたか。", closing]
    trainee = await make_user()
    session = await start(user=trainee, ai_role="counselor", model_version_id=version.pk)
    comm = await joined(trainee, session.pk)
    await say(comm, "話を聞いてもらえて少し楽になりました。", "m1")
    _, message = await reply_frames(comm, Role.COUNSELOR)
    assert message["text"] == closing
    ended = await receive_type(comm, "ended")
    assert ended["reason"] == EndReason.COUNSELOR
    s = await session_of(session.pk)
    assert s.status == SessionStatus.ENDED and s.end_reason == EndReason.COUNSELOR
    await comm.disconnect()


async def test_ai_client_refinement_streams_only_the_accepted_reply(layer, endpoint, role_card):
    await make_version(kind="client", backend="openai", config={"base_url": endpoint.base_url, "model": "scripted"})
    listed = "悩みは三つあります。\n1. 残業\n2. 睡眠\n3. 家族"
    good = "残業が続いて、夜に眠れない日が多いんです。"
    endpoint.reply.queue[:] = [listed, good]
    trainee = await make_user()
    session = await start(user=trainee, ai_role="client", role_card_id=role_card.pk)
    comm = await joined(trainee, session.pk)
    await say(comm, "こんにちは。今日はどうされましたか。", "m1")
    events, message = await reply_frames(comm, Role.CLIENT)
    assert_streamed(events, message)
    assert message["text"] == good
    assert "残業\n" not in "".join(e.get("delta", "") for e in events)  # the rejected reply was never shown
    assert [m.text for m in await ai_messages(session.pk, Role.CLIENT)] == [good]
    await comm.disconnect()


async def test_unreachable_endpoint_gives_an_error_frame_stores_nothing_and_retry_works(
    layer, openai_server, role_card
):
    version = await make_version(
        kind="client", backend="openai", config={"base_url": "http://127.0.0.1:9/v1", "model": "m", "timeout": 2}
    )
    trainee = await make_user()
    session = await start(user=trainee, ai_role="client", role_card_id=role_card.pk)
    comm = await joined(trainee, session.pk)
    await say(comm, "こんにちは。今日はどうされましたか。", "m1")
    error = await receive_type(comm, "ai.error")
    assert str(ERR_UNREACHABLE) in error["message"]
    assert ERR_ENDPOINT_UNREACHABLE.format(url="http://127.0.0.1:9/v1") in error["message"]
    assert error["retry_url"] == f"/ml/practice/{session.pk}/retry/"
    assert await ai_messages(session.pk, Role.CLIENT) == []
    practice = await practice_of(session.pk)
    assert practice.state == GenerationState.ERROR and str(ERR_UNREACHABLE) in practice.last_error

    version.config = {"base_url": openai_server, "model": "m"}  # the administrator fixes the endpoint
    await sync_to_async(version.save)()
    client = Client()
    await sync_to_async(client.force_login)(trainee)
    response = await sync_to_async(client.post)(error["retry_url"])
    assert response.status_code == 200 and response.json() == {"ok": True}
    events, message = await reply_frames(comm, Role.CLIENT)
    assert_streamed(events, message)
    assert [m.text for m in await ai_messages(session.pk, Role.CLIENT)] == [OPENAI_REPLY]
    assert (await practice_of(session.pk)).state == GenerationState.IDLE
    await comm.disconnect()


async def test_several_quick_messages_get_one_reply_after_the_last(layer, openai_server, role_card, settings):
    settings.KOKORO_PRACTICE_EMBEDDED_THREAD = True  # replies run in the background, after the debounce
    settings.KOKORO_PRACTICE_DEBOUNCE_S = 0.8
    await make_version(kind="client", backend="openai", config={"base_url": openai_server, "model": "m"})
    trainee = await make_user()
    session = await start(user=trainee, ai_role="client", role_card_id=role_card.pk)
    comm = await joined(trainee, session.pk)
    for i, text in enumerate(["こんにちは。", "カウンセラーの田中です。", "今日はどうされましたか。"]):
        await say(comm, text, f"m{i}")
    _, message = await reply_frames(comm, Role.CLIENT)
    assert message["seq"] == 4
    await drain(comm, wait=1.5)
    assert [m.seq for m in await ai_messages(session.pk, Role.CLIENT)] == [4]
    await comm.disconnect()


async def test_a_message_during_generation_retracts_the_stale_reply(layer, openai_server, role_card):
    await make_version(kind="client", backend="openai", config={"base_url": openai_server, "model": "slow"})
    trainee = await make_user()
    session = await start(user=trainee, ai_role="client", role_card_id=role_card.pk)
    await sync_to_async(
        lambda: Message.objects.create(
            session_id=session.pk, seq=1, role=Role.COUNSELOR, sender=trainee, text="こんにちは。"
        )
    )()
    await sync_to_async(lambda: Session.objects.filter(pk=session.pk).update(last_seq=1))()
    comm = await joined(trainee, session.pk)
    running = asyncio.ensure_future(sync_to_async(generate_in_thread, thread_sensitive=False)(session.pk, 1))
    await receive_type(comm, "ai.typing")
    await sync_to_async(
        lambda: Message.objects.create(
            session_id=session.pk, seq=2, role=Role.COUNSELOR, sender=trainee, text="ゆっくりで大丈夫ですよ。"
        )
    )()
    await sync_to_async(lambda: Session.objects.filter(pk=session.pk).update(last_seq=2))()
    outcome = await running
    assert outcome.status == "superseded"
    await receive_type(comm, "ai.retract")
    assert await ai_messages(session.pk, Role.CLIENT) == []
    await comm.disconnect()


@pytest.mark.redis
async def test_real_celery_worker_streams_and_stores_the_reply_through_redis(
    layer, redis_required, scored_sessions, role_card, settings
):
    from celery.contrib.testing.worker import start_worker

    from kokoro_site.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    trainee = await make_user()
    session = await start(user=trainee, ai_role="client", role_card_id=role_card.pk)
    comm = await joined(trainee, session.pk)
    worker = start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, queues=["default"])
    await sync_to_async(worker.__enter__, thread_sensitive=False)()
    try:
        started = time.monotonic()
        await say(comm, "こんにちは。今日はどのようなことでご相談にいらっしゃいましたか。", "m1")
        events, message = await reply_frames(comm, Role.CLIENT)
        assert_streamed(events, message)
        elapsed = time.monotonic() - started
        print(f"real worker: message -> stored AI reply on the socket in {elapsed:.2f} s")
        assert elapsed < 30
        assert [m.text for m in await ai_messages(session.pk, Role.CLIENT)] == [message["text"]]
    finally:
        await sync_to_async(worker.__exit__, thread_sensitive=False)(None, None, None)
        await comm.disconnect()


def test_task_is_routed_to_the_gpu_queue_for_hf_models(db, tiny_base_model, role_card, settings, monkeypatch):
    from models_ml.practice import services, tasks

    settings.CELERY_TASK_ALWAYS_EAGER = False
    sent: list[dict] = []
    monkeypatch.setattr(tasks.partner_reply, "apply_async", lambda **kw: sent.append(kw))
    model_version(kind="client", backend="hf", config={"base_model": str(tiny_base_model)})
    trainee = UserFactory()
    session = practice_session_start(user=trainee, ai_role="client", role_card_id=role_card.pk)
    message_create(session_id=session.pk, user=trainee, text="こんにちは。")
    assert sent == [{"args": [session.pk, 1], "queue": "gpu", "countdown": None}]
    assert services._queue_for(session.practice) == "gpu"
