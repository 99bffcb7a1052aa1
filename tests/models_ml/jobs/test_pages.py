"""Every staff page that shows a job shows it with the one progress component (``data-job``) and loads the script
that follows it over ws/jobs/ (docs/jobs.md, "Live progress"): a page added without them would stay still until
its slow polling, or for ever where it has none."""

from __future__ import annotations

import pytest
from django.urls import reverse

from models_ml.arena.models import EvalJob, JudgeJob, LabelJob, SimulationJob
from models_ml.finetuning.models import FineTuneJob, RetrievalIndexJob
from models_ml.jobs.models import JobStatus
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

RUNNING = {"status": JobStatus.RUNNING}


def _finetune():
    values = {"task": "response", "data_subset": "full", "base_model": "/models/base", "hyperparameters": {}}
    return FineTuneJob.objects.create(**values, **RUNNING)


PAGES = [
    ("partners:jobs", (), _finetune),
    ("partners:job_detail", ("pk",), _finetune),
    ("partners:models", (), lambda: RetrievalIndexJob.objects.create(role="counselor", **RUNNING)),
    ("arena:simulations", (), lambda: SimulationJob.objects.create(total=3, **RUNNING)),
    ("arena:simulation_detail", ("pk",), lambda: SimulationJob.objects.create(total=3, **RUNNING)),
    ("arena:judge_jobs", (), lambda: JudgeJob.objects.create(total=3, **RUNNING)),
    ("arena:job_detail", ("judge", "pk"), lambda: JudgeJob.objects.create(total=3, **RUNNING)),
    ("arena:labels", (), lambda: LabelJob.objects.create(kind="topic", total=3, **RUNNING)),
    ("arena:job_detail", ("label", "pk"), lambda: LabelJob.objects.create(kind="topic", total=3, **RUNNING)),
    ("arena:evaluations", (), lambda: EvalJob.objects.create(total=3, **RUNNING)),
    ("arena:job_detail", ("eval", "pk"), lambda: EvalJob.objects.create(total=3, **RUNNING)),
]


@pytest.mark.parametrize(("name", "args", "make"), PAGES, ids=[f"{p[0]}{'/' + p[1][0] if p[1] else ''}" for p in PAGES])
def test_a_page_showing_a_job_follows_it_live(client, name, args, make):
    job = make()
    client.force_login(UserFactory(is_staff=True))
    response = client.get(reverse(name, args=[job.pk if a == "pk" else a for a in args]))
    html = response.content.decode()
    assert response.status_code == 200
    assert f'data-job="{job.live_ref}"' in html and 'class="job-live"' in html  # the shared component
    assert "js/jobs_live.js" in html
    if name.startswith("arena:") and not args:  # a list row: the state chip follows too
        assert 'data-job-field="status" data-label-queued=' in html
