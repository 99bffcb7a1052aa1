"""Property test of the chat socket: arbitrary frames never break it or half-save anything.

One client-role socket (and one event loop) is reused across all hypothesis examples. For every
frame: each ``message`` frame gets exactly one ``ack`` or ``error``; every reply is a
well-formed frame of a known type (errors carry a known code and a readable message); the socket
still answers a ``ping`` afterwards; the database holds seq 1..N with ``last_seq == N`` and grows
by exactly one per non-duplicate ack.
"""

from __future__ import annotations

import asyncio
import json
import math

import pytest
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import channel_layers, get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from roleplay.models import Message, Session
from roleplay.routing import websocket_urlpatterns
from tests.factories import SessionFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]

APP = URLRouter(websocket_urlpatterns)
TIMEOUT = 5
KNOWN_REPLIES = {"ack", "error", "sync", "pong", "message", "typing", "presence"}
KNOWN_ERROR_CODES = {
    "bad_json",
    "unknown_type",
    "bad_frame",
    "empty",
    "too_long",
    "bad_client_msg_id",
    "not_started",
    "ended",
    "read_only",
    "rate_limited",
    "forbidden",
}
TYPES = ["message", "sync", "typing", "end", "ping"]

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=10,
)
texts = (
    st.text(min_size=1, max_size=60)  # any unicode, lone surrogates included
    | st.just("あ" * 2001)
    | st.just("x" * 200_000)  # oversized frame
    | st.just(" \n\t")
    | st.just("\ud800 lone surrogate")  # valid JSON ("\\ud800"), not encodable as UTF-8
    | st.just("nul \x00 byte")  # PostgreSQL text cannot hold NUL
    | json_values
)
frames = st.fixed_dictionaries(
    {"type": st.sampled_from(TYPES) | json_values},
    optional={
        "text": texts,
        "client_msg_id": st.none() | st.text(max_size=70) | json_values,
        "after": st.integers(min_value=-5, max_value=2**70) | json_values,
        "typing": json_values,
    },
)
raw_frames = st.one_of(
    frames.map(lambda f: ("json", f)),
    json_values.map(lambda v: ("json", v)),
    st.text(min_size=1, max_size=80).map(lambda t: ("text", t)),  # (the test client cannot send "")
    st.binary(min_size=1, max_size=80).map(lambda b: ("bytes", b)),
    frames.map(lambda f: ("bytes", json.dumps(f, allow_nan=True).encode("utf-8"))),
)


def _encode(kind: str, value) -> dict:
    if kind == "json":
        return {"text_data": json.dumps(value, allow_nan=True)}
    if kind == "text":
        return {"text_data": value}
    return {"bytes_data": value}


def _decoded(kind: str, value):
    """What the consumer will see after json.loads, or None if it is not JSON."""
    try:
        return json.loads(_encode(kind, value).get("text_data") or value)
    except (TypeError, ValueError):
        return None


def _is_message_frame(decoded) -> bool:
    return isinstance(decoded, dict) and decoded.get("type") == "message"


def _check_reply(frame: dict) -> None:
    assert isinstance(frame, dict) and frame.get("type") in KNOWN_REPLIES, frame
    if frame["type"] == "error":
        assert frame["code"] in KNOWN_ERROR_CODES, frame
        assert isinstance(frame["message"], str) and frame["message"], frame
        assert "Traceback" not in frame["message"]


def _db_state(session_id: int) -> tuple[list[int], int]:
    seqs = list(Message.objects.filter(session_id=session_id).order_by("seq").values_list("seq", flat=True))
    return seqs, Session.objects.values_list("last_seq", flat=True).get(pk=session_id)


def test_arbitrary_frames_get_a_reply_or_are_processed_and_nothing_is_half_saved(settings_):
    from channels.db import database_sync_to_async as sync_to_async  # closes its connections

    session = SessionFactory()
    loop = asyncio.new_event_loop()

    async def open_socket() -> WebsocketCommunicator:
        channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
        await get_channel_layer().flush()
        comm = WebsocketCommunicator(APP, f"/ws/sessions/{session.pk}/")
        comm.scope["user"] = session.client
        connected, code = await comm.connect(timeout=TIMEOUT)
        assert connected, code
        assert (await comm.receive_json_from(timeout=TIMEOUT))["type"] == "hello"
        return comm

    comm = loop.run_until_complete(open_socket())
    state = sync_to_async(_db_state)

    async def exchange(kind: str, value) -> None:
        seqs_before, _ = await state(session.pk)
        await comm.send_to(**_encode(kind, value))
        await comm.send_json_to({"type": "ping"})
        decoded = _decoded(kind, value)
        expect_outcome = _is_message_frame(decoded)
        pongs_due = 2 if isinstance(decoded, dict) and decoded.get("type") == "ping" else 1
        outcome, pongs, replies = None, 0, []
        while pongs < pongs_due or (expect_outcome and outcome is None):
            frame = await comm.receive_json_from(timeout=TIMEOUT)
            _check_reply(frame)
            replies.append(frame)
            if frame["type"] == "pong":
                pongs += 1
            elif frame["type"] in ("ack", "error") and outcome is None and expect_outcome:
                outcome = frame
            elif frame["type"] == "ack":
                raise AssertionError(f"unexpected second outcome {frame} after {replies}")
        # No second ack/error for the same frame arrives later.
        if not await comm.receive_nothing(timeout=0.02):
            raise AssertionError(f"extra frame {await comm.receive_json_from()} after {replies}")
        seqs, last_seq = await state(session.pk)
        assert seqs == list(range(1, len(seqs) + 1)) and last_seq == len(seqs)
        created = outcome is not None and outcome["type"] == "ack" and not outcome["duplicate"]
        assert len(seqs) == len(seqs_before) + (1 if created else 0), (value, outcome)
        if created:
            assert outcome["seq"] == last_seq
            stored = await sync_to_async(Message.objects.get)(session_id=session.pk, seq=last_seq)
            assert stored.text == _decoded(kind, value)["text"]

    @settings(
        max_examples=75,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )
    @given(raw_frames)
    @example(("json", {"type": "message", "text": "\ud800 lone surrogate", "client_msg_id": "sur"}))
    @example(("json", {"type": "message", "text": "nul \x00 byte", "client_msg_id": "nul"}))
    @example(("json", {"type": "message", "text": "ok", "client_msg_id": "nul\x00"}))
    @example(("json", {"type": "message", "text": "ok", "client_msg_id": "\udfff"}))
    @example(("json", {"type": ["message"], "text": "unhashable type"}))
    @example(("json", {"type": "sync", "after": 2**70}))
    @example(("bytes", b"\xff\xfe{"))
    @example(("json", {"type": "message", "text": "x" * 1_000_000}))
    def run(example) -> None:
        loop.run_until_complete(exchange(*example))

    try:
        run()
    finally:

        async def close() -> None:
            try:
                await comm.disconnect()
            except Exception:  # the consumer crashed: already reported by the failing example
                pass
            layer = get_channel_layer()
            await layer.flush()
            if hasattr(layer, "close_pools"):
                await layer.close_pools()
            channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)

        loop.run_until_complete(close())
        loop.close()


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("text", "nul \x00 byte", "bad_frame"),
        ("text", "\ud800 lone surrogate", "bad_frame"),
        ("client_msg_id", "id-\x00", "bad_client_msg_id"),
        ("client_msg_id", "id-\udc00", "bad_client_msg_id"),
    ],
    ids=["text-nul", "text-surrogate", "id-nul", "id-surrogate"],
)
async def test_text_the_database_cannot_hold_is_refused_up_front_and_not_stored(field, value, code, caplog):
    """NUL / lone surrogates are valid JSON but cannot be stored: a clear error, no "send again"."""
    from channels.db import database_sync_to_async as sync_to_async  # closes its connections

    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
    session = await sync_to_async(SessionFactory)()
    comm = WebsocketCommunicator(APP, f"/ws/sessions/{session.pk}/")
    comm.scope["user"] = session.client
    assert (await comm.connect(timeout=TIMEOUT))[0]
    assert (await comm.receive_json_from(timeout=TIMEOUT))["type"] == "hello"
    frame = {"type": "message", "text": "こんにちは", "client_msg_id": "ok-1"} | {field: value}
    await comm.send_to(text_data=json.dumps(frame))
    reply = await comm.receive_json_from(timeout=TIMEOUT)
    assert reply["type"] == "error" and reply["code"] == code
    assert await sync_to_async(_db_state)(session.pk) == ([], 0)
    assert not [r for r in caplog.records if r.levelname == "ERROR"]  # no traceback logged
    await comm.send_json_to({"type": "message", "text": "次は大丈夫", "client_msg_id": "ok-2"})
    assert (await comm.receive_json_from(timeout=TIMEOUT))["seq"] == 1  # the socket is still usable
    await comm.disconnect()
    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)


@pytest.fixture
def settings_(settings):
    settings.KOKORO_CHAT_RATE_LIMIT = 10_000
    return settings


def test_float_and_nan_are_json_values_the_strategy_covers():
    """Guards the strategy itself: NaN/Infinity are accepted by Python's json (non-standard JSON)."""
    assert math.isnan(json.loads(json.dumps(float("nan"), allow_nan=True)))
