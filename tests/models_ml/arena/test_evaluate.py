"""evaluate_generation: the KokoroChat protocol on the test dialogues (score 99–100), command and job."""

from __future__ import annotations

import json
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from models_ml.arena import selectors, services
from models_ml.arena.models import EvalJob, JobStatus

pytestmark = pytest.mark.django_db


def test_test_turns_are_counselor_turns_answering_the_client_of_99_100_dialogues(scored_sessions):
    cases = selectors.test_turns()
    test_session = next(f.session for f in scored_sessions if f.total == 99)
    assert selectors.test_sessions().get() == test_session
    assert len(cases) == 4  # 4 client turns each answered by the counselor (the closing merges into the last)
    for session_id, history, reference in cases:
        assert session_id == test_session.pk
        assert history[-1]["role"] == "client" and reference
    assert cases[-1][2].count("\n") == 1  # the last two counselor messages were merged


def test_command_reports_both_tokenisations_as_json(scored_sessions):
    out = StringIO()
    call_command("evaluate_generation", "--backend", "retrieval", "--json", "--limit", "3", stdout=out)
    report = json.loads(out.getvalue())
    assert report["turns"] == 3 and report["backend"] == "retrieval"
    assert set(report["metrics"]) == {"word", "char"}
    assert "MeCab" in report["tokenization"]["word"]
    for row in report["metrics"].values():
        assert 0 <= row["bleu1"] <= 100 + 1e-6 and 0 <= row["distinct2"] <= 1


def test_openai_model_version_is_scored_against_the_real_replies(version, scored_sessions):
    plain = version("counselor-plain")
    out = StringIO()
    call_command(
        "evaluate_generation",
        "--backend",
        "openai",
        "--model-version",
        str(plain.pk),
        "--json",
        "--limit",
        "3",
        stdout=out,
    )
    report = json.loads(out.getvalue())
    # Three identical replies "そうですか。": 6 distinct characters out of 18.
    assert report["metrics"]["char"]["distinct1"] == pytest.approx(6 / 18)
    assert report["model"] == f"counselor-plain #{plain.pk}"


def test_command_errors_are_clear(scored_sessions, version):
    with pytest.raises(CommandError, match=re.escape(str(services.ERR_LIMIT))):
        call_command("evaluate_generation", "--limit", "0")
    expected = services.ERR_VERSION_KIND % {"id": 99999, "kind": "openai counselor"}
    with pytest.raises(CommandError, match=re.escape(str(expected))):
        call_command("evaluate_generation", "--backend", "openai", "--model-version", "99999")
    with pytest.raises(CommandError, match=re.escape(str(services.ERR_NO_BACKEND % {"name": "openai"}))):
        call_command("evaluate_generation", "--backend", "openai")


def test_no_test_dialogue_is_a_clear_error(db):
    with pytest.raises(CommandError, match=re.escape(str(services.ERR_NO_TEST_DIALOGUES))):
        call_command("evaluate_generation", "--backend", "retrieval")


def test_evaluation_job_stores_the_report(scored_sessions, staff_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = services.eval_job_create(backend_name="retrieval", limit=2, created_by=staff_user)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.results["turns"] == 2 and (job.done, job.total) == (2, 2)
    with pytest.raises(services.ArenaError):
        services.eval_job_create(backend_name="gpt")
    assert EvalJob.objects.count() == 1
