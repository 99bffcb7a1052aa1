"""Topic labelling and WAI-O-S jobs against the localhost server, including malformed judge output."""

from __future__ import annotations

import json

import pytest

from models_ml.arena import services
from models_ml.arena.models import JobStatus, LabelJob, WaiRating
from roleplay.models import Session
from tests.models_ml.arena.conftest import WAI_BASE

pytestmark = pytest.mark.django_db


def _label(django_capture_on_commit_callbacks, **kwargs) -> LabelJob:
    with django_capture_on_commit_callbacks(execute=True):
        job = services.label_job_create(**kwargs)
    job.refresh_from_db()
    return job


@pytest.fixture
def sessions(scored_sessions):
    return [f.session for f in scored_sessions[:3]]


def test_topic_job_stores_category_and_sub_topic_in_the_session_fields(
    version, sessions, django_capture_on_commit_callbacks
):
    judge = version("topic-ok", kind="scorer")
    job = _label(
        django_capture_on_commit_callbacks,
        kind="topic",
        session_ids=[s.pk for s in sessions],
        judge_version_id=judge.pk,
    )
    assert job.status == JobStatus.SUCCEEDED and job.done == 3
    for s in sessions:
        s.refresh_from_db()
        assert (s.topic, s.topic_sub) == ("workplace", "残業と睡眠不足")


def test_existing_topics_are_kept_unless_overwrite(version, sessions, django_capture_on_commit_callbacks):
    Session.objects.filter(pk=sessions[0].pk).update(topic="school", topic_sub="人間関係")
    judge = version("topic-ok", kind="scorer")
    job = _label(
        django_capture_on_commit_callbacks,
        kind="topic",
        session_ids=[s.pk for s in sessions],
        judge_version_id=judge.pk,
    )
    assert sessions[0].pk not in job.session_ids and job.total == 2
    assert Session.objects.get(pk=sessions[0].pk).topic == "school"
    _label(
        django_capture_on_commit_callbacks,
        kind="topic",
        session_ids=[sessions[0].pk],
        overwrite=True,
        judge_version_id=judge.pk,
    )
    assert Session.objects.get(pk=sessions[0].pk).topic == "workplace"


def test_invalid_category_is_retried_then_accepted(version, sessions, django_capture_on_commit_callbacks):
    judge = version("topic-bad-then-ok", kind="scorer")
    job = _label(
        django_capture_on_commit_callbacks, kind="topic", session_ids=[sessions[0].pk], judge_version_id=judge.pk
    )
    assert job.done == 1 and Session.objects.get(pk=sessions[0].pk).topic == "workplace"


def test_unparseable_topic_fails_the_session_and_leaves_it_unlabelled(
    version, sessions, django_capture_on_commit_callbacks
):
    judge = version("topic-bad", kind="scorer")
    job = _label(
        django_capture_on_commit_callbacks, kind="topic", session_ids=[sessions[0].pk], judge_version_id=judge.pk
    )
    assert job.status == JobStatus.SUCCEEDED and (job.done, job.failed) == (0, 1)
    assert "JSON object" in job.results["failures"][str(sessions[0].pk)]
    assert Session.objects.get(pk=sessions[0].pk).topic == ""


def test_wai_job_asks_each_item_three_times_and_reverse_keys_items_4_and_10(
    version, sessions, django_capture_on_commit_callbacks, llm_stub
):
    judge = version("wai-ok", kind="scorer")
    before = len(llm_stub.requests)
    job = _label(
        django_capture_on_commit_callbacks, kind="wai", session_ids=[sessions[0].pk], judge_version_id=judge.pk
    )
    rating = WaiRating.objects.get(session=sessions[0])
    assert rating.job == job
    # every item asked in 3 rounds (ratings base, base + 1, base): the stored item is the mean, as worded
    assert rating.items == pytest.approx([b + 1 / 3 for b in WAI_BASE])
    rounds = json.loads(rating.raw)["rounds"]
    assert len(rounds) == 3 and all(len(r) == 12 for r in rounds)
    assert [r[0] for r in rounds] == [5, 6, 5]
    # items 4 (2 + 1/3) and 10 (3 + 1/3) are reverse-keyed: 8 - x
    scored = [b + 1 / 3 for b in WAI_BASE]
    scored[3], scored[9] = 8 - scored[3], 8 - scored[9]
    goal = (scored[3] + scored[5] + scored[9] + scored[10]) / 4
    task = (scored[0] + scored[1] + scored[7] + scored[11]) / 4
    bond = (scored[2] + scored[4] + scored[6] + scored[8]) / 4
    assert (rating.goal, rating.task, rating.bond) == pytest.approx((goal, task, bond))
    assert rating.total == pytest.approx(sum(scored) / 12)
    assert len(llm_stub.requests) - before == 36  # 12 items x 3 rounds, one item per prompt


def test_malformed_wai_output_is_a_recorded_failure(version, sessions, django_capture_on_commit_callbacks):
    judge = version("wai-bad", kind="scorer")
    job = _label(
        django_capture_on_commit_callbacks, kind="wai", session_ids=[sessions[0].pk], judge_version_id=judge.pk
    )
    assert job.failed == 1 and not WaiRating.objects.exists()
    assert job.results["failures"][str(sessions[0].pk)] == "The WAI answer does not give one rating from 1 to 7."


def test_label_job_input_errors(version, db):
    with pytest.raises(services.ArenaError, match=str(services.ERR_LABEL_KIND)):
        services.label_job_create(kind="mood")
    with pytest.raises(services.ArenaError, match=str(services.ERR_NO_SESSIONS)):
        services.label_job_create(kind="topic", source="simulated")
    assert not LabelJob.objects.exists()


def test_no_judge_configured_fails_the_job_with_a_clear_reason(sessions, django_capture_on_commit_callbacks):
    job = _label(django_capture_on_commit_callbacks, kind="topic", session_ids=[sessions[0].pk])
    assert job.status == JobStatus.FAILED and job.error == str(services.ERR_NO_JUDGE)
