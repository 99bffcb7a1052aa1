import asyncio

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer

from models_ml.scoring.backends import clear_cache, model_path
from models_ml.scoring.base import ERR_MODEL_CHECKSUM, ERR_NO_MODEL, ERR_TOO_FEW_MESSAGES
from models_ml.scoring.models import Prediction, PredictionStatus
from models_ml.scoring.services import MIN_MESSAGES_TO_SCORE, prediction_compute, scorer_train
from models_ml.scoring.tasks import score_session
from roleplay.models import Session, SessionSource
from roleplay.notify import session_group
from roleplay.signals import session_ended

from .scorer_samples import make_session_with_messages, sample_records


@pytest.fixture
def active_model(db):
    clear_cache()
    row = scorer_train(records=sample_records(40), min_sessions=10)
    assert row.is_active
    return row


def _capture_push(session_id: int, action, timeout: float = 60.0) -> dict:
    """Subscribe to the session's group, run ``action`` (sync), return the first pushed message.

    Everything runs in one event loop (the Redis pub/sub layer needs that); ``action`` runs in
    the calling thread, so it sees the test's database transaction."""

    async def run():
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(session_group(session_id), channel)
        try:
            await sync_to_async(action)()
            return await asyncio.wait_for(layer.receive(channel), timeout)
        finally:
            await layer.group_discard(session_group(session_id), channel)

    return async_to_sync(run)()


def _end(session, capture):
    with capture(execute=True):
        session_ended.send(sender=Session, session_id=session.pk)


@pytest.mark.django_db
def test_session_end_queues_a_pending_prediction_after_commit(active_model, django_capture_on_commit_callbacks):
    session = make_session_with_messages(warm=True, n=12)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        session_ended.send(sender=Session, session_id=session.pk)
    assert Prediction.objects.get(session=session).status == PredictionStatus.PENDING
    assert len(callbacks) == 1  # the task is queued only once the transaction commits


@pytest.mark.django_db
def test_scoring_task_stores_a_done_prediction(active_model, django_capture_on_commit_callbacks):
    session = make_session_with_messages(warm=True, n=12)
    with django_capture_on_commit_callbacks(execute=True):
        assert score_session.apply(args=[session.pk]).get() == "done"
    p = Prediction.objects.get(session=session)
    assert p.status == PredictionStatus.DONE, p.reason
    assert len(p.items) == 20 and all(0 <= v <= 5 for v in p.items)
    assert p.total is not None and p.model_version == active_model.version
    assert set(p.screening) == {"S1", "S2", "S3"}
    assert p.finished_at is not None


@pytest.mark.django_db
def test_too_short_session_is_skipped_with_reason(active_model):
    session = make_session_with_messages(n=MIN_MESSAGES_TO_SCORE - 1)
    p = prediction_compute(session_id=session.pk)
    assert p.status == PredictionStatus.SKIPPED
    assert p.reason_text == str(
        ERR_TOO_FEW_MESSAGES % {"count": MIN_MESSAGES_TO_SCORE - 1, "minimum": MIN_MESSAGES_TO_SCORE}
    )
    assert p.items == [] and p.total is None


@pytest.mark.django_db
def test_without_a_trained_model_the_prediction_waits_for_one_with_the_reason():
    clear_cache()
    session = make_session_with_messages(n=10)
    p = prediction_compute(session_id=session.pk)
    assert p.status == PredictionStatus.WAITING  # a state, not a failure (issue 16)
    assert p.reason_text == str(ERR_NO_MODEL)


@pytest.mark.django_db
def test_corrupt_model_file_fails_the_prediction_with_checksum_reason(active_model):
    clear_cache()
    path = model_path(active_model.path)
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    session = make_session_with_messages(n=10)
    p = prediction_compute(session_id=session.pk)
    assert p.status == PredictionStatus.FAILED
    assert p.reason_text == str(ERR_MODEL_CHECKSUM % {"path": path})


@pytest.mark.django_db
def test_missing_session_is_ignored_by_the_task():
    assert score_session.apply(args=[987654]).get() == "missing"
    assert not Prediction.objects.exists()


@pytest.mark.django_db
def test_imported_sessions_are_not_scored(active_model, django_capture_on_commit_callbacks):
    session = make_session_with_messages(n=10, source=SessionSource.IMPORTED)
    _end(session, django_capture_on_commit_callbacks)
    assert not Prediction.objects.filter(session=session).exists()


@pytest.mark.django_db
def test_prediction_is_pushed_to_counselor_and_observer(active_model, django_capture_on_commit_callbacks):
    session = make_session_with_messages(n=10)

    def compute():
        with django_capture_on_commit_callbacks(execute=True):
            prediction_compute(session_id=session.pk)

    message = _capture_push(session.pk, compute)
    assert message["event"]["type"] == "prediction"
    assert message["event"]["session_id"] == session.pk
    assert message["event"]["status"] == "done"
    assert len(message["event"]["items"]) == 20
    assert set(message["audience"]) == {"counselor", "observer"}


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_real_celery_worker_scores_an_ended_session(redis_required):
    """End of session → on_commit → Redis broker → real worker thread → Prediction row + push."""
    from celery.contrib.testing.worker import start_worker

    from kokoro_site.celery import app

    clear_cache()
    scorer_train(records=sample_records(40), min_sessions=10)
    session = make_session_with_messages(warm=True, n=12)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        # Outside a transaction the on_commit callback runs at once: the task goes to Redis.
        message = _capture_push(session.pk, lambda: session_ended.send(sender=Session, session_id=session.pk))
    assert message["event"]["type"] == "prediction" and message["event"]["status"] == "done"
    p = Prediction.objects.get(session=session)
    assert p.status == PredictionStatus.DONE, p.reason
    assert len(p.items) == 20 and p.items == message["event"]["items"]
