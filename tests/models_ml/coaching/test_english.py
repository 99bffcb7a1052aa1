"""Coaching suggestions of an English session (issue 20 item 4): the English counselor answers, prompted in
English; with only a Japanese counselor the run is unavailable and the page says why (never Japanese lines)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from models_ml.coaching import services
from models_ml.coaching.tasks import compute_suggestions
from models_ml.finetuning.models import ModelVersion
from models_ml.jobs.models import JobStatus
from models_ml.llm.prompts import COUNSELOR_SYSTEM_PROMPT_EN
from roleplay.models import Role
from tests.openai_stub import OpenAIStub

from .conftest import make_session

pytestmark = pytest.mark.django_db

DIALOGUE_EN = [
    (Role.COUNSELOR, 0, "Hello. What brings you here today?"),
    (Role.CLIENT, 30, "I have trouble sleeping because of work."),
    (Role.COUNSELOR, 60, "When did it start?"),
    (Role.CLIENT, 90, "About three months ago."),
]
SUGGESTION = "It sounds like work has been weighing on you at night."


def test_an_english_session_is_coached_by_the_english_counselor(django_capture_on_commit_callbacks):
    with OpenAIStub(lambda body: SUGGESTION) as stub:
        ModelVersion.objects.create(
            name="Japanese",
            kind="counselor",
            backend="openai",
            config={"base_url": stub.base_url, "model": "ja"},
            is_active=True,
        )
        english = {"base_url": stub.base_url, "model": "en", "language": "en"}
        ModelVersion.objects.create(name="English", kind="counselor", backend="openai", config=english, is_active=True)
        session = make_session(dialogue=DIALOGUE_EN, language="en")
        with django_capture_on_commit_callbacks(execute=True):
            run = services.suggestion_run_ensure(session=session)
        run.refresh_from_db()
        if run.status == JobStatus.QUEUED:
            compute_suggestions.apply(args=[run.pk])
            run.refresh_from_db()
        assert run.status == JobStatus.SUCCEEDED, run.error
        assert set(run.suggestions.values()) == {SUGGESTION} and sorted(run.suggestions, key=int) == ["3"]
        assert {r["model"] for r in stub.requests} == {"en"}
        assert stub.requests[0]["messages"][0]["content"] == COUNSELOR_SYSTEM_PROMPT_EN


def test_an_english_session_without_an_english_counselor_is_unavailable(retrieval_model, client):
    session = make_session(dialogue=DIALOGUE_EN, language="en")
    run = services.suggestion_run_ensure(session=session)
    assert run.unavailable  # the Japanese retrieval counselor exists, but is not used for English
    japanese = services.suggestion_run_ensure(session=make_session())
    assert not japanese.unavailable
    from django.contrib.auth import get_user_model

    staff = get_user_model().objects.create_user("coach-staff", password="x", is_staff=True)
    client.force_login(staff)
    page = client.get(reverse("coaching:timeline_body", args=[session.pk]))
    assert page.status_code == 200
    assert "build_retrieval_index --language en" in page.content.decode()
