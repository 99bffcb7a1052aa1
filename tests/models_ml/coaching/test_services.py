"""Suggestion runs (states, progress, failures) and the live coaching computation."""

from __future__ import annotations

import pytest

from models_ml.coaching import services
from models_ml.coaching.models import CODE_UNAVAILABLE, CoachingSettings, SuggestionRun
from models_ml.coaching.tasks import compute_suggestions
from models_ml.finetuning.models import Backend, ModelKind, ModelVersion
from models_ml.jobs.models import JobStatus
from roleplay.models import Role, SessionSource, SessionStatus
from tests.factories import MessageFactory

from .conftest import make_session

pytestmark = pytest.mark.django_db


def test_ensure_without_backend_stores_unavailable_and_queues_nothing(django_capture_on_commit_callbacks):
    session = make_session()
    with django_capture_on_commit_callbacks() as callbacks:
        run = services.suggestion_run_ensure(session=session)
    assert (run.status, run.error_code) == (JobStatus.FAILED, CODE_UNAVAILABLE) and run.total == 4 and callbacks == []


def test_ensure_is_idempotent(retrieval_model, django_capture_on_commit_callbacks):
    session = make_session()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = services.suggestion_run_ensure(session=session)
        again = services.suggestion_run_ensure(session=session)
    dispatches = [c for c in callbacks if c.__qualname__.startswith("job_dispatch.")]  # (the rest: live pushes)
    assert first.pk == again.pk and len(dispatches) == 1 and SuggestionRun.objects.count() == 1


def test_compute_stores_one_suggestion_per_counselor_turn_with_progress(retrieval_model, monkeypatch):
    session = make_session()
    run = SuggestionRun.objects.create(session=session, status=JobStatus.QUEUED)
    seen = []
    original = services._run_update

    def spy(run_id, **fields):
        if "done" in fields:
            seen.append(fields["done"])
        original(run_id, **fields)

    monkeypatch.setattr(services, "_run_update", spy)
    assert compute_suggestions.apply(args=[run.pk]).get() == JobStatus.SUCCEEDED
    run.refresh_from_db()
    assert seen == [0, 1, 2, 3, 4] and run.done == run.total == 4 and run.finished_at is not None
    # The opening greeting (no client message before it) gets no suggestion.
    assert sorted(run.suggestions, key=int) == ["3", "5", "7", "9"]


def test_a_broken_model_ends_in_the_failed_state_with_the_reason(db, tmp_path):
    ModelVersion.objects.create(
        name="壊れた索引",
        kind=ModelKind.COUNSELOR,
        backend=Backend.RETRIEVAL,
        config={"index_path": str(tmp_path / "missing.joblib")},
        is_active=True,
    )
    session = make_session()
    run = SuggestionRun.objects.create(session=session, status=JobStatus.QUEUED)
    assert compute_suggestions.apply(args=[run.pk]).get() == JobStatus.FAILED
    run.refresh_from_db()
    assert run.status == JobStatus.FAILED and "missing.joblib" in run.error and run.suggestions == {}


def test_task_failure_hook_marks_the_run_failed_on_a_time_limit():
    from celery.exceptions import TimeLimitExceeded

    from models_ml.coaching.tasks import _on_failure

    run = SuggestionRun.objects.create(session=make_session(), status=JobStatus.RUNNING, done=2, total=4)
    _on_failure(args=[run.pk], exception=TimeLimitExceeded(900))
    run.refresh_from_db()
    assert run.status == JobStatus.FAILED and run.error == str(services.ERR_TIME_LIMIT)


def test_compute_of_a_finished_run_does_nothing(retrieval_model):
    run = SuggestionRun.objects.create(
        session=make_session(), status=JobStatus.SUCCEEDED, suggestions={"3": "前の結果"}
    )
    compute_suggestions.apply(args=[run.pk])
    run.refresh_from_db()
    assert run.suggestions == {"3": "前の結果"}


# --- live coaching ----------------------------------------------------------------------------------
def test_live_compute_is_skipped_when_coaching_is_off():
    session = make_session(status=SessionStatus.LIVE)  # human-human: off by default
    assert services.live_coaching_compute(session_id=session.pk, seq=9) is None
    assert not CoachingSettings.objects.exists()


def test_live_compute_waits_for_enough_messages():
    session = make_session(
        status=SessionStatus.LIVE, source=SessionSource.AI, dialogue=[(Role.COUNSELOR, 0, "こんにちは。")]
    )
    state = services.live_coaching_compute(session_id=session.pk, seq=1)
    assert state["status"] == "too_few" and state["total"] is None


def test_live_compute_skips_when_a_newer_counselor_message_exists():
    session = make_session(status=SessionStatus.LIVE, source=SessionSource.AI)
    assert services.live_coaching_compute(session_id=session.pk, seq=7) is None  # seq 9 is newer
    assert services.live_coaching_compute(session_id=session.pk, seq=9)["seq"] == 9


def test_live_compute_with_a_trained_scorer_gives_a_total_trend_and_hints(db):
    from models_ml.scoring.selectors import labelled_dialogues
    from models_ml.scoring.services import scorer_train
    from tests.models_ml.finetuning.conftest import SCORES, make_scored_session

    for i, score in enumerate(SCORES):
        make_scored_session(i, score)
    scorer_train(records=labelled_dialogues(), min_sessions=10)
    session = make_session(status=SessionStatus.LIVE, source=SessionSource.AI)
    for seq in (12, 14, 16, 18):  # QUESTION_STREAK (4) questions in a row
        MessageFactory(session=session, seq=seq - 1, role=Role.CLIENT, text="はい。", sender=session.client)
        MessageFactory(
            session=session, seq=seq, role=Role.COUNSELOR, text="それはいつからですか？", sender=session.counselor
        )
    first = services.live_coaching_compute(session_id=session.pk, seq=9)  # stale by now: skipped
    assert first is None
    state = services.live_coaching_compute(session_id=session.pk, seq=18)
    assert state["status"] == "ok" and 0 <= state["total"] <= 100 and state["trend"] == [state["total"]]
    assert "question_streak" in state["hints"]
    row = CoachingSettings.objects.get(session=session)
    assert row.state == state and row.trend == [{"seq": 18, "total": state["total"]}]


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_real_celery_worker_computes_the_suggestions(redis_required, settings):
    """Services mode: ensure → on_commit → Redis broker → worker thread → stored run with progress."""
    import time

    from celery.contrib.testing.worker import start_worker

    from kokoro_site.celery import app
    from models_ml.finetuning.services import retrieval_index_build

    settings.CELERY_TASK_ALWAYS_EAGER = False
    for i in range(3):
        make_session(total=80 + i)
    retrieval_index_build(role="counselor")
    session = make_session()
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, queues=["default"]):
        run = services.suggestion_run_ensure(session=session)
        deadline = time.monotonic() + 30
        while run.active and time.monotonic() < deadline:
            time.sleep(0.2)
            run.refresh_from_db()
    assert run.status == JobStatus.SUCCEEDED and run.done == run.total == 4


def test_no_live_coaching_when_the_ai_plays_the_counselor():
    from models_ml.practice.models import PracticeSession

    session = make_session(status=SessionStatus.LIVE, source=SessionSource.AI)
    PracticeSession.objects.create(session=session, ai_role="counselor")
    assert services.live_coaching_compute(session_id=session.pk, seq=9) is None


def test_with_only_the_three_demo_dialogues_no_suggestion_is_repeated(db):
    """Before the published data is imported the partner answers from the demo's three rated sessions; a long
    review must still not suggest the same line twice."""
    from django.utils import timezone

    from feedback.demo import demo_rated_sessions_seed
    from models_ml.finetuning.services import retrieval_index_build
    from tests.factories import UserFactory

    demo_rated_sessions_seed(counselor=UserFactory(), client=UserFactory(), now=timezone.now())
    retrieval_index_build(role="counselor")
    lines = ["こんにちは。", "はい、どうぞ。", "そうなんですね。", "つらいですね。", "もう少し聞かせてください。"]
    dialogue = []
    for turn in range(12):
        dialogue.append((Role.COUNSELOR, 30 * turn, lines[turn % len(lines)]))
        dialogue.append((Role.CLIENT, 30 * turn + 10, f"最近{turn}回目も眠れなくて、仕事のことを考えてしまいます。"))
    session = make_session(dialogue=dialogue)
    run = SuggestionRun.objects.create(session=session, status=JobStatus.QUEUED)
    assert compute_suggestions.apply(args=[run.pk]).get() == JobStatus.SUCCEEDED
    run.refresh_from_db()
    suggested = list(run.suggestions.values())
    assert len(suggested) == 11 and len(set(suggested)) == len(suggested)
