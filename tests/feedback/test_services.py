"""``feedback_submit``: the stored record, the refusals (nothing saved), the push to the counselor."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.utils import timezone

from feedback.items import ITEM_FIELDS, SCREENING_FIELDS
from feedback.models import Feedback
from feedback.services import (
    ERR_ALREADY_SUBMITTED,
    ERR_ITEM_MISSING,
    ERR_ITEM_RANGE,
    ERR_NOT_CLIENT,
    ERR_NOT_ENDED,
    ERR_NOT_HELD,
    ERR_SCREENING_VALUE,
    ERR_UNKNOWN_FIELD,
    FEEDBACK_EVENT_AUDIENCE,
    PLATFORM_EVALUATION_ID_START,
    FeedbackError,
    feedback_next_evaluation_id,
    feedback_submit,
)
from roleplay.models import SessionStatus
from roleplay.notify import session_group
from tests.factories import FeedbackFactory, MessageFactory, SessionFactory, UserFactory

from .helpers import db_snapshot, ended_session, no_screenings, values

pytestmark = pytest.mark.django_db


def test_submit_stores_the_dataset_record_with_server_computed_total():
    session = ended_session()
    before = timezone.now()
    feedback = feedback_submit(
        session=session, client=session.client, values=values(4, felt_respected=5), screenings=no_screenings()
    )
    feedback.refresh_from_db()
    assert feedback.session_id == session.pk
    assert feedback.client_id == session.client_id and feedback.counselor_id == session.counselor_id
    assert feedback.total == 4 * 19 + 5
    assert feedback.felt_respected == 5 and feedback.felt_heard_and_understood == 4
    assert before <= feedback.created_at <= timezone.now()
    assert not any(getattr(feedback, f) for f in SCREENING_FIELDS)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({"harmful_due_to_ignorance": True}, 0),
        ({"other_potentially_unethical": True, "unwilling_to_continue": True}, 0),
        ({"unwilling_to_continue": True}, (3 * 19 + 4) // 2),
    ],
)
def test_screening_items_are_stored_and_applied_to_the_total(flags, expected):
    session = ended_session()
    feedback = feedback_submit(
        session=session, client=session.client, values=values(3, felt_respected=4), screenings=flags
    )
    assert feedback.total == expected
    for field in SCREENING_FIELDS:
        assert getattr(feedback, field) is flags.get(field, False)


def test_first_platform_evaluation_id_is_above_the_dataset_range():
    FeedbackFactory(evaluation_id=7234)
    session = ended_session()
    feedback = feedback_submit(session=session, client=session.client, values=values(), screenings={})
    assert feedback.evaluation_id == PLATFORM_EVALUATION_ID_START


def test_evaluation_id_is_the_next_free_one_once_platform_ids_exist():
    FeedbackFactory(evaluation_id=PLATFORM_EVALUATION_ID_START + 41)
    session = ended_session()
    feedback = feedback_submit(session=session, client=session.client, values=values(), screenings={})
    assert feedback.evaluation_id == PLATFORM_EVALUATION_ID_START + 42
    assert feedback_next_evaluation_id() == PLATFORM_EVALUATION_ID_START + 43


def test_a_clash_on_the_evaluation_id_is_retried_with_a_fresh_id(monkeypatch):
    taken = FeedbackFactory(evaluation_id=PLATFORM_EVALUATION_ID_START).evaluation_id
    calls = iter([taken, taken + 1])  # first attempt races with a concurrent submission
    monkeypatch.setattr("feedback.services.feedback_next_evaluation_id", lambda: next(calls))
    session = ended_session()
    feedback = feedback_submit(session=session, client=session.client, values=values(), screenings={})
    assert feedback.evaluation_id == taken + 1
    assert Feedback.objects.filter(session=session).count() == 1


def _refused(session, client, vals, screenings=None) -> FeedbackError:
    before = db_snapshot()
    with pytest.raises(FeedbackError) as info:
        feedback_submit(session=session, client=client, values=vals, screenings=screenings or {})
    assert db_snapshot() == before
    return info.value


def test_second_submission_is_refused_and_keeps_the_first():
    session = ended_session()
    first = feedback_submit(session=session, client=session.client, values=values(2), screenings={})
    error = _refused(session, session.client, values(5))
    assert error.message == ERR_ALREADY_SUBMITTED
    first.refresh_from_db()
    assert first.total == 40


@pytest.mark.parametrize("who", ["counselor", "stranger", "staff", "anonymous"])
def test_anyone_but_the_client_is_refused(who):
    session = ended_session()
    user = {
        "counselor": session.counselor,
        "stranger": UserFactory(),
        "staff": UserFactory(is_staff=True, is_superuser=True),
        "anonymous": None,
    }[who]
    assert _refused(session, user, values()).message == ERR_NOT_CLIENT
    assert not Feedback.objects.exists()


@pytest.mark.parametrize("status", [SessionStatus.SCHEDULED, SessionStatus.LIVE, SessionStatus.CANCELLED])
def test_session_that_has_not_ended_is_refused(status):
    session = SessionFactory(status=status)
    assert _refused(session, session.client, values()).message == ERR_NOT_ENDED
    assert not Feedback.objects.exists()


@pytest.mark.parametrize("case", ["never_started", "no_messages", "counselor_only", "client_only"])
def test_a_session_that_did_not_take_place_cannot_be_rated(case):
    session = ended_session(messages=False, **({"started_at": None} if case == "never_started" else {}))
    roles = {"counselor_only": ["counselor"], "client_only": ["client"]}.get(case, [])
    if case == "never_started":
        roles = ["counselor", "client"]
    for seq, role in enumerate(roles, start=1):
        MessageFactory(session=session, seq=seq, role=role)
    error = _refused(session, session.client, values())
    assert (error.code, error.message) == ("not_held", ERR_NOT_HELD)
    assert not Feedback.objects.exists()


@pytest.mark.parametrize("bad", [6, -1, "abc", "3", 2.5, True, None])
def test_item_value_outside_zero_to_five_or_not_an_int_is_refused(bad):
    session = ended_session()
    error = _refused(session, session.client, values(felt_respected=bad))
    assert error.message == (ERR_ITEM_MISSING if bad is None else ERR_ITEM_RANGE)
    assert not Feedback.objects.exists()


def test_missing_item_is_refused():
    session = ended_session()
    incomplete = values()
    del incomplete[ITEM_FIELDS[-1]]
    assert _refused(session, session.client, incomplete).message == ERR_ITEM_MISSING
    assert not Feedback.objects.exists()


def test_unknown_field_including_a_total_is_refused_by_the_service():
    session = ended_session()
    assert _refused(session, session.client, {**values(), "total": 100}).message == ERR_UNKNOWN_FIELD
    assert _refused(session, session.client, values(), {"S4": True}).message == ERR_UNKNOWN_FIELD
    assert _refused(session, session.client, values(), {SCREENING_FIELDS[0]: "yes"}).message == ERR_SCREENING_VALUE
    assert not Feedback.objects.exists()


# --- the push -----------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
async def test_submit_pushes_a_feedback_event_to_the_session_group_after_commit():
    session = await database_sync_to_async(ended_session)()
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(session_group(session.pk), channel)
    feedback = await database_sync_to_async(feedback_submit)(
        session=session, client=session.client, values=values(5), screenings={}
    )
    message = await asyncio.wait_for(layer.receive(channel), timeout=5)
    assert message["type"] == "session.event"
    assert tuple(message["audience"]) == FEEDBACK_EVENT_AUDIENCE
    event = message["event"]
    assert event["type"] == "feedback"
    assert event["session_id"] == session.pk
    assert event["total"] == 100 and event["evaluation_id"] == feedback.evaluation_id
    await layer.group_discard(session_group(session.pk), channel)


@pytest.mark.django_db(transaction=True)
async def test_refused_submission_pushes_nothing():
    session = await database_sync_to_async(ended_session)()
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(session_group(session.pk), channel)
    with pytest.raises(FeedbackError):
        await database_sync_to_async(feedback_submit)(
            session=session, client=session.counselor, values=values(), screenings={}
        )
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(layer.receive(channel), timeout=0.5)
    await layer.group_discard(session_group(session.pk), channel)


async def _frames_until(communicator, wanted: str, within: float = 5) -> list[dict]:
    """Frames received until one of type ``wanted`` (or ``within`` seconds); never cancels the app."""
    frames: list[dict] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        if await communicator.receive_nothing(timeout=0.05, interval=0.01):
            continue
        frame = await communicator.receive_json_from()
        frames.append(frame)
        if frame.get("type") == wanted:
            break
    return frames


@pytest.mark.django_db(transaction=True)
async def test_the_real_chat_consumer_forwards_the_feedback_to_the_counselor_only():
    from channels.routing import URLRouter
    from channels.testing import WebsocketCommunicator

    from roleplay.routing import websocket_urlpatterns

    session = await database_sync_to_async(ended_session)()
    app = URLRouter(websocket_urlpatterns)
    sockets = {}
    for role, user in (("counselor", session.counselor), ("client", session.client)):
        communicator = WebsocketCommunicator(app, f"/ws/sessions/{session.pk}/")
        communicator.scope["user"] = user
        connected, _ = await communicator.connect()
        assert connected, role
        sockets[role] = communicator
    await database_sync_to_async(feedback_submit)(
        session=session, client=session.client, values=values(1), screenings={}
    )
    counselor_frames = await _frames_until(sockets["counselor"], "feedback")
    client_frames = await _frames_until(sockets["client"], "feedback", within=0.7)
    feedback_frames = [f for f in counselor_frames if f["type"] == "feedback"]
    assert len(feedback_frames) == 1 and feedback_frames[0]["total"] == 20
    assert all(f["type"] != "feedback" for f in client_frames)
    for communicator in sockets.values():
        await communicator.disconnect()


# --- concurrency (real row locks need PostgreSQL) -------------------------------------------------
def _race(submit_calls) -> list:
    """Run the calls at once from separate threads (each with its own DB connection)."""
    import threading

    from django.db import connection

    barrier = threading.Barrier(len(submit_calls))
    results: list = [None] * len(submit_calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as exc:  # collected and asserted by the test
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(submit_calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_double_submit_stores_exactly_one_feedback(postgres_required):
    session = ended_session()
    call = lambda: feedback_submit(session=session, client=session.client, values=values(), screenings={})  # noqa: E731
    results = _race([call, call, call])
    stored = [r for r in results if isinstance(r, Feedback)]
    refused = [r for r in results if isinstance(r, FeedbackError)]
    assert len(stored) == 1 and len(refused) == 2, results
    assert all(r.message == ERR_ALREADY_SUBMITTED for r in refused)
    assert Feedback.objects.filter(session=session).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_submits_for_different_sessions_get_distinct_evaluation_ids(postgres_required):
    sessions = [ended_session() for _ in range(4)]
    calls = [
        (lambda s=s: feedback_submit(session=s, client=s.client, values=values(), screenings={})) for s in sessions
    ]
    results = _race(calls)
    assert all(isinstance(r, Feedback) for r in results), results
    ids = sorted(r.evaluation_id for r in results)
    assert ids == list(range(PLATFORM_EVALUATION_ID_START, PLATFORM_EVALUATION_ID_START + 4))
