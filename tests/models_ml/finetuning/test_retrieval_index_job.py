"""Retrieval-index builds run as jobs of the one framework (progress, result, clear failure)."""

import pytest
from django.urls import reverse

from models_ml.finetuning.models import Backend, ModelVersion, RetrievalIndexJob
from models_ml.finetuning.services import (
    ERR_RETRIEVAL_EMPTY,
    ERR_TARGET_ROLE,
    PartnersError,
    retrieval_index_job_create,
)
from models_ml.jobs.models import JobStatus

pytestmark = pytest.mark.django_db


def test_an_index_build_job_registers_an_active_retrieval_version(scored_sessions, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = retrieval_index_job_create(role="client")
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert (job.progress, job.attempts) == (100, 1)
    version = job.model_version
    assert version.backend == Backend.RETRIEVAL and version.kind == "client" and version.is_active
    assert job.message == version.name


def test_an_index_build_without_high_scored_sessions_fails_with_the_reason(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = retrieval_index_job_create(role="counselor")
    job.refresh_from_db()
    assert (job.status, job.error) == (JobStatus.FAILED, str(ERR_RETRIEVAL_EMPTY))
    assert job.model_version is None and not ModelVersion.objects.exists()


def test_an_unknown_role_is_refused_and_nothing_is_queued(db, django_capture_on_commit_callbacks):
    with pytest.raises(PartnersError) as info, django_capture_on_commit_callbacks() as callbacks:
        retrieval_index_job_create(role="observer")
    assert (info.value.code, info.value.message) == ("role", ERR_TARGET_ROLE)
    assert callbacks == [] and not RetrievalIndexJob.objects.exists()


def test_the_models_page_button_starts_an_index_job(
    client, staff_user, scored_sessions, django_capture_on_commit_callbacks
):
    client.force_login(staff_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("partners:model_build_retrieval"), {"role": "counselor"})
    assert response.status_code == 302
    job = RetrievalIndexJob.objects.get()
    assert (job.role, job.created_by, job.status) == ("counselor", staff_user, JobStatus.SUCCEEDED)
