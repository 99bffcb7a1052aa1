"""One name per job type: the registered key, in card/cancel URLs, log rows and live pushes alike."""

import pytest
from django.urls import reverse

from models_ml.finetuning.models import RetrievalIndexJob
from models_ml.jobs import services
from models_ml.jobs.control import JobControlError, job_log, job_log_lines, job_model_for, job_type_key
from models_ml.jobs.live import job_ref, parse_ref
from models_ml.jobs.models import Job, JobLogEntry

pytestmark = pytest.mark.django_db


def _concrete_job_models(cls=Job):
    for sub in cls.__subclasses__():
        if not sub._meta.abstract:
            yield sub
        yield from _concrete_job_models(sub)


def test_every_concrete_job_model_is_registered_and_named_by_its_key_everywhere():
    for model in _concrete_job_models():
        key = job_type_key(model)
        assert services.job_types()[key].model is model
        assert job_model_for(key) is model
        assert "." not in key  # not app_label.modelname: that was the second scheme


def test_card_url_log_rows_and_live_ref_use_the_same_key():
    job = RetrievalIndexJob.objects.create(role="counselor")
    job_log(model=RetrievalIndexJob, job_id=job.pk, line="started")
    assert JobLogEntry.objects.get().job_type == "retrieval_index"
    assert [e.line for e in job_log_lines(job=job)] == ["started"]
    assert job_ref(job) == f"retrieval_index:{job.pk}" and parse_ref(job_ref(job)) == ("retrieval_index", job.pk)
    assert reverse("jobs:card", args=[job_type_key(RetrievalIndexJob), job.pk]) == f"/ml/jobs/retrieval_index/{job.pk}/"


def test_the_old_app_label_key_is_no_longer_a_job_type():
    with pytest.raises(JobControlError):
        job_model_for("partners.retrievalindexjob")


def test_a_staff_member_opens_a_job_card_by_its_key(admin_client):
    job = RetrievalIndexJob.objects.create(role="counselor")
    assert admin_client.get(reverse("jobs:card", args=["retrieval_index", job.pk])).status_code == 200
    assert admin_client.get(reverse("jobs:card", args=["partners.retrievalindexjob", job.pk])).status_code == 404
